/*
 * The scanner: reads and renames inside the data root, as the data owner.
 * For now it only answers the parent's hello; the pipeline issue gives it
 * its work.
 */
#include "log.h"
#include "proc.h"
#include "shipper.h"

static void	 scanner_dispatch(struct imsgev *, struct imsg *);

static struct imsgev	 iev_parent;

void
scanner_main(struct shipper_conf *conf)
{
	sd_event	*ev;

	ev = child_start(PROC_SCANNER, conf->user, &iev_parent, scanner_dispatch);
	child_run(ev);
}

static void
scanner_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	if (child_hello(iev, imsg, PROC_SCANNER))
		return;
	fatalx("unexpected imsg type %u from parent", imsg->hdr.type);
}
