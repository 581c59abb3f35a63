/*
 * The parent's memory of recent answers (DESIGN §8): a ring of the last
 * ANSWER_RING answers with their details, for `doctor` to quote, and
 * counts per class in one bucket per minute over a day, for `status`
 * and `doctor`'s windows.  A busy receiver may answer thousands of times
 * a day; the ring forgets, the buckets do not.  Buckets are keyed by the
 * monotonic clock, so a clock step on the lab host (the very thing that
 * causes out-of-window answers) does not move answers out of the window.
 */
#include <string.h>
#include <time.h>

#include "shipper.h"

#define ANSWER_RING	64
#define BUCKET_SEC	60
#define NBUCKETS	(CTL_WINDOW_LONG / BUCKET_SEC)

static struct ctl_answer	 ring[ANSWER_RING];
static size_t			 ring_next, ring_len;

static struct {
	int64_t		 minute;	/* monotonic minute; -1: unused */
	uint32_t	 counts[CLASS_MAX];
} buckets[NBUCKETS];
static int		 buckets_ready;

static int64_t
minute_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec / BUCKET_SEC);
}

void
answers_add(enum answer_class class, int http_status, const char *id,
    const char *detail)
{
	struct ctl_answer	*a = &ring[ring_next];
	int64_t			 m = minute_now();
	size_t			 i;

	if (class < 0 || class >= CLASS_MAX)
		return;
	if (!buckets_ready) {
		for (i = 0; i < NBUCKETS; i++)
			buckets[i].minute = -1;
		buckets_ready = 1;
	}
	i = (size_t)(m % NBUCKETS);
	if (buckets[i].minute != m) {
		memset(&buckets[i], 0, sizeof(buckets[i]));
		buckets[i].minute = m;
	}
	buckets[i].counts[class]++;

	memset(a, 0, sizeof(*a));
	a->time = time(NULL);
	a->class = class;
	a->http_status = http_status;
	strlcpy(a->id, id, sizeof(a->id));
	strlcpy(a->detail, detail, sizeof(a->detail));
	ring_next = (ring_next + 1) % ANSWER_RING;
	if (ring_len < ANSWER_RING)
		ring_len++;
}

/*
 * Counts over the last WINDOW seconds, in whole minutes: the current
 * minute and the ones before it that end inside the window.
 */
void
answers_counts(time_t window, uint32_t *counts)
{
	int64_t		 m = minute_now(), first;
	size_t		 i;
	int		 c;

	memset(counts, 0, sizeof(*counts) * CLASS_MAX);
	if (!buckets_ready)
		return;
	first = m - (window / BUCKET_SEC) + 1;
	for (i = 0; i < NBUCKETS; i++) {
		if (buckets[i].minute < first || buckets[i].minute > m)
			continue;
		for (c = 0; c < CLASS_MAX; c++)
			counts[c] += buckets[i].counts[c];
	}
}

/* Newest first, at most MAX of them. */
size_t
answers_recent(struct ctl_answer *out, size_t max)
{
	size_t	 i, n = 0, at = ring_next;

	for (i = 0; i < ring_len && n < max; i++) {
		at = (at + ANSWER_RING - 1) % ANSWER_RING;
		out[n++] = ring[at];
	}
	return (n);
}
