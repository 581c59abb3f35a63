/*
 * The uploader: sends archives to the receiver.
 * For now it only answers the parent's hello; the pipeline issue gives it
 * its work.
 */
#include "log.h"
#include "proc.h"
#include "shipper.h"

static void	 uploader_dispatch(struct imsgev *, struct imsg *);

static struct imsgev	 iev_parent;

void
uploader_main(struct shipper_conf *conf)
{
	sd_event	*ev;

	ev = child_start(PROC_UPLOADER, conf->sandbox_user, &iev_parent, uploader_dispatch);
	child_run(ev);
}

static void
uploader_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	if (child_hello(iev, imsg, PROC_UPLOADER))
		return;
	fatalx("unexpected imsg type %u from parent", imsg->hdr.type);
}
