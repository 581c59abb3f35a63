/*
 * The packer: turns the episode files it is handed into one archive.
 * For now it only answers the parent's hello; the pipeline issue gives it
 * its work.
 */
#include "log.h"
#include "proc.h"
#include "shipper.h"

static void	 packer_dispatch(struct imsgev *, struct imsg *);

static struct imsgev	 iev_parent;

void
packer_main(struct shipper_conf *conf)
{
	sd_event	*ev;

	ev = child_start(PROC_PACKER, conf->sandbox_user, &iev_parent, packer_dispatch);
	child_run(ev);
}

static void
packer_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	if (child_hello(iev, imsg, PROC_PACKER))
		return;
	fatalx("unexpected imsg type %u from parent", imsg->hdr.type);
}
