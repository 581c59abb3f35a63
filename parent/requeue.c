/*
 * `cis490-shipper requeue ID...` and `requeue --reason R`: move
 * quarantined episodes back to episodes/, where the scanner finds them
 * as new.  A rename within the data root, as every state change is, so
 * it is safe while the daemon runs and works while it is down.  The
 * reason file goes after the episode has moved: a crash in between
 * leaves a reason without an episode, which the scanner removes.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "shipper.h"
#include "uploader/classify.h"
#include "util.h"

#define REASON_SUFFIX	".reason.json"

static int
requeue_one(int qfd, int efd, const char *id)
{
	char	 reason[ID_MAXLEN + 32];

	if (!valid_id(id)) {
		log_warnx("%s: not an episode id", log_esc(id));
		return (-1);
	}
	if (renameat2(qfd, id, efd, id, RENAME_NOREPLACE) == -1) {
		if (errno == ENOENT)
			log_warnx("%s: not in quarantine/", id);
		else if (errno == EEXIST)
			log_warnx("%s: episodes/%s exists already; move one of "
			    "the two aside first", id, id);
		else
			log_warn("%s: rename to episodes/", id);
		return (-1);
	}
	snprintf(reason, sizeof(reason), "%s%s", id, REASON_SUFFIX);
	if (fsync(efd) == -1 || (unlinkat(qfd, reason, 0) == -1 &&
	    errno != ENOENT) || fsync(qfd) == -1)
		log_warn("%s: moved, but the quarantine directory was not "
		    "synced", id);
	printf("requeued %s\n", id);
	return (0);
}

/* The "reason" of quarantine/ID.reason.json, or "" if unreadable. */
static void
reason_of(int qfd, const char *file, char *out, size_t len)
{
	char	 buf[8192];
	ssize_t	 n;
	int	 fd;

	out[0] = '\0';
	if ((fd = openat(qfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0 || json_get_string(buf, n, "reason", out, len) == -1)
		out[0] = '\0';
}

int
requeue_main(const struct shipper_conf *conf, const char *reason, int argc,
    char **argv)
{
	DIR		*dir;
	struct dirent	*de;
	char		 path[PATH_MAX], id[ID_MAXLEN + 1], r[64];
	size_t		 n;
	int		 qfd, efd, i, failed = 0, found = 0;

	snprintf(path, sizeof(path), "%s/quarantine", conf->data_root);
	if ((qfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("%s", path);
	snprintf(path, sizeof(path), "%s/episodes", conf->data_root);
	if ((efd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("%s", path);

	for (i = 0; i < argc; i++)
		if (requeue_one(qfd, efd, argv[i]) == -1)
			failed++;
	if (reason != NULL) {
		if ((dir = fdopendir(dup(qfd))) == NULL)
			fatal("quarantine/");
		while ((de = readdir(dir)) != NULL) {
			n = strlen(de->d_name);
			if (n <= strlen(REASON_SUFFIX) || strcmp(de->d_name + n -
			    strlen(REASON_SUFFIX), REASON_SUFFIX) != 0 ||
			    n - strlen(REASON_SUFFIX) > ID_MAXLEN)
				continue;
			memcpy(id, de->d_name, n - strlen(REASON_SUFFIX));
			id[n - strlen(REASON_SUFFIX)] = '\0';
			reason_of(qfd, de->d_name, r, sizeof(r));
			if (strcmp(r, reason) != 0)
				continue;
			found++;
			if (requeue_one(qfd, efd, id) == -1)
				failed++;
		}
		closedir(dir);
		if (found == 0)
			log_warnx("no quarantined episode has reason %s",
			    log_esc(reason));
	}
	close(qfd);
	close(efd);
	return (failed == 0 ? 0 : 1);
}
