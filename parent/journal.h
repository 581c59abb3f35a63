/*
 * `doctor` without the daemon: the shipping errors of the last minutes,
 * classified from the unit's journal (journal.c).
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stdint.h>
#include <time.h>

#include "shipper.h"

struct journal_scan {
	uint32_t	 counts[CLASS_MAX];
	uint32_t	 lines;		/* the unit's lines in the window */
	int		 files;		/* journal files found */
	int		 unreadable;	/* of those, not readable by us */
	char		 error[256];	/* sd-journal failed: why */
};

/* 0, or -1 with error set when the journal cannot be opened at all. */
int	 journal_recent(time_t, struct journal_scan *);

#endif /* JOURNAL_H */
