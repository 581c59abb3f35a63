/*
 * The data tree (DESIGN §3): the parent makes what is missing, owned by
 * the data user, before the scanner starts.  Everything must be on one
 * file system: an episode moves between these directories by rename,
 * and a rename across mounts fails.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "shipper.h"

static const struct {
	const char	*name;
	mode_t		 mode;
} subdirs[] = {
	/* Group-writable: a recorder in the data user's group adds here. */
	{ "episodes", 0770 },
	{ "spool", 0750 },
	{ "shipped", 0750 },
	{ "quarantine", 0750 },
};

static void
make_dir(int at, const char *name, const char *shown, mode_t mode,
    const struct passwd *pw)
{
	struct stat	 st;

	if (mkdirat(at, name, mode) == 0) {
		log_info("created %s", shown);
		/* The mode as designed, whatever the umask (0027 in the unit). */
		if (fchmodat(at, name, mode, 0) == -1)
			fatal("chmod %s", shown);
		if (pw != NULL && fchownat(at, name, pw->pw_uid, pw->pw_gid,
		    AT_SYMLINK_NOFOLLOW) == -1)
			fatal("chown %s", shown);
		return;
	}
	if (errno != EEXIST)
		fatal("mkdir %s", shown);
	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		fatal("%s", shown);
	if (!S_ISDIR(st.st_mode))
		fatalx("%s is not a directory: move it away, the shipper "
		    "needs a directory there", shown);
}

void
datatree_create(const struct shipper_conf *conf)
{
	const struct passwd	*pw = NULL;
	struct stat		 root, st;
	char			 shown[PATH_MAX];
	size_t			 i;
	int			 fd;

	if (geteuid() == 0 && (pw = getpwnam(conf->user)) == NULL)
		fatalx("user %s: no such account", conf->user);
	make_dir(AT_FDCWD, conf->data_root, conf->data_root, 0750, pw);
	if ((fd = open(conf->data_root, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || fstat(fd, &root) == -1)
		fatal("data root %s", conf->data_root);
	for (i = 0; i < sizeof(subdirs) / sizeof(*subdirs); i++) {
		snprintf(shown, sizeof(shown), "%s/%s", conf->data_root,
		    subdirs[i].name);
		make_dir(fd, subdirs[i].name, shown, subdirs[i].mode, pw);
		if (fstatat(fd, subdirs[i].name, &st, 0) == -1)
			fatal("%s", shown);
		if (st.st_dev != root.st_dev)
			fatalx("%s is on another file system than %s: episodes "
			    "move by rename, which cannot cross mounts; keep "
			    "the whole data root on one file system", shown,
			    conf->data_root);
	}
	close(fd);
}
