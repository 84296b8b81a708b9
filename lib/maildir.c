#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "maildir.h"
#include "mutf7.h"

#define TMP_MAX_AGE (36 * 3600)   /* the cr.yp.to rule for tmp/ debris */

int maildir_folder_dir(const char *folder, char *out, size_t outsz, struct err *e)
{
	size_t o = 0;
	const char *p = folder;

	if (outsz == 0)
		return err_set(e, EX_USAGE, "folder name too long");
	out[0] = '\0';
	if (folder[0] == '\0' || strcasecmp(folder, "INBOX") == 0)
		return 0;
	for (const unsigned char *s = (const unsigned char *)folder; *s != '\0'; s++)
		if (*s < 0x20 || *s == 0x7f)
			return err_set(e, EX_USAGE, "folder name has a control character");
	for (;;) {
		size_t n = strcspn(p, "/.");
		int w;

		if (n == 0)
			return err_set(e, EX_USAGE, "bad folder name (empty component, leading dot or ..): %s", folder);
		if (o + 1 >= outsz)
			return err_set(e, EX_USAGE, "folder name too long");
		out[o++] = '.';
		w = mutf7_encode(p, n, out + o, outsz - o);
		if (w < 0)
			return err_set(e, EX_USAGE, "folder name is not valid UTF-8 or too long");
		o += (size_t)w;
		p += n;
		if (*p == '\0')
			break;
		p++;
	}
	if (o > NAME_MAX)
		return err_set(e, EX_USAGE, "folder name too long");
	return 0;
}

int maildir_make(const char *path, int is_folder, struct err *e)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char p[PATH_MAX];
	struct stat st;
	int created = 0;

	/* The common case, an existing Maildir, costs one stat. */
	if (file_join(p, sizeof p, path, "tmp", e) < 0)
		return -1;
	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (file_join(p, sizeof p, path, "new", e) < 0)
			return -1;
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
	}
	if (file_mkdirs(path, 0700, e) < 0)
		return -1;
	for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
		if (file_join(p, sizeof p, path, sub[i], e) < 0)
			return -1;
		if (mkdir(p, 0700) == 0)
			created = 1;
		else if (errno != EEXIST)
			return err_sys(e, err_code_for_errno(errno), "unable to create %s", p);
	}
	if (is_folder) {
		int fd;
		if (file_join(p, sizeof p, path, "maildirfolder", e) < 0)
			return -1;
		fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return err_sys(e, err_code_for_errno(errno), "unable to create %s", p);
		close(fd);
	}
	/* New directory entries must survive a crash like the message will. */
	if (created && file_fsync_dir(path, e) < 0)
		return -1;
	return 0;
}

/* Remove tmp/ files untouched for 36 hours: debris of failed deliveries. */
static void clean_tmp(const char *dir)
{
	char p[PATH_MAX];
	struct err e;
	DIR *d;
	struct dirent *de;
	time_t now = time(NULL);

	if (file_join(p, sizeof p, dir, "tmp", &e) < 0 || (d = opendir(p)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		time_t t;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		t = st.st_mtime > st.st_atime ? st.st_mtime : st.st_atime;
		if (now - t > TMP_MAX_AGE)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/* The host part of a unique name, with '/', ':' and ',' escaped as octal
 * as the Maildir spec asks ("," because it starts the ,S= info). */
static int host_part(const char *host, char *out, size_t outsz, struct err *e)
{
	char buf[256];
	size_t o = 0;

	if (host == NULL) {
		if (gethostname(buf, sizeof buf - 1) < 0)
			return err_sys(e, EX_TEMPFAIL, "unable to get the host name");
		buf[sizeof buf - 1] = '\0';
		host = buf;
	}
	for (; *host != '\0'; host++) {
		const char *esc = NULL;
		switch (*host) {
		case '/': esc = "\\057"; break;
		case ':': esc = "\\072"; break;
		case ',': esc = "\\054"; break;
		}
		size_t need = esc != NULL ? 4 : 1;
		if (o + need >= outsz)
			return err_set(e, EX_USAGE, "host name too long");
		if (esc != NULL)
			memcpy(out + o, esc, 4);
		else
			out[o] = *host;
		o += need;
	}
	if (o == 0)
		return err_set(e, EX_USAGE, "empty host name");
	out[o] = '\0';
	return 0;
}

int maildir_unique(char *name, size_t namesz, time_t when, const char *host, struct err *e)
{
	static unsigned int seq;
	char part[160];
	struct timeval tv;

	if (host_part(host, part, sizeof part, e) < 0)
		return -1;
	gettimeofday(&tv, NULL);
	if (when != 0)
		tv.tv_sec = when;
	if (snprintf(name, namesz, "%lld.M%ldP%ldQ%u.%s", (long long)tv.tv_sec,
	             (long)tv.tv_usec, (long)getpid(), ++seq, part) >= (int)namesz)
		return err_set(e, EX_SOFTWARE, "file name too long");
	return 0;
}

int maildir_deliver(struct maildir_delivery *d, int in_fd, struct err *e)
{
	char dir[PATH_MAX], name[NAME_MAX + 1], tmp[PATH_MAX], newdir[PATH_MAX];
	char folder[NAME_MAX + 1];
	int fd = -1, linked = 0, over, active;

	if (maildir_make(d->root, 0, e) < 0)
		return -1;
	if (d->folder != NULL && maildir_folder_dir(d->folder, folder, sizeof folder, e) < 0)
		return -1;
	if (d->folder != NULL && folder[0] != '\0') {
		if (file_join(dir, sizeof dir, d->root, folder, e) < 0 ||
		    maildir_make(dir, 1, e) < 0)
			return -1;
	} else if (snprintf(dir, sizeof dir, "%s", d->root) >= (int)sizeof dir) {
		return err_set(e, EX_USAGE, "path too long: %s", d->root);
	}
	clean_tmp(dir);

	for (int tries = 0; fd < 0; tries++) {
		if (maildir_unique(name, sizeof name, d->when, d->host, e) < 0)
			return -1;
		if (snprintf(tmp, sizeof tmp, "%s/tmp/%s", dir, name) >= (int)sizeof tmp)
			return err_set(e, EX_USAGE, "path too long in %s", dir);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && (errno != EEXIST || tries >= 10))
			return err_sys(e, err_code_for_errno(errno), "unable to create %s", tmp);
	}
	if (message_copy(in_fd, fd, d->msg, &d->stats, e) < 0)
		goto fail;
	if (fsync(fd) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to fsync %s", tmp);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		err_sys(e, EX_TEMPFAIL, "unable to write %s", tmp);
		goto fail;
	}
	fd = -1;

	if (quota_check(d->root, d->quota, d->stats.size, &over, &active, e) < 0)
		goto fail;
	if (over) {
		err_set(e, d->over_quota_code, "mailbox over quota: %s", d->root);
		goto fail;
	}

	/* mail-filter's verdict: spam delivered to INBOX goes to the junk
	 * folder instead (the file moves there by a link from tmp/) */
	d->junked = d->junk != NULL && d->junk[0] != '\0' && d->stats.spam_flag &&
	            (d->folder == NULL || folder[0] == '\0');
	if (d->junked) {
		char junk[NAME_MAX + 1];

		if (maildir_folder_dir(d->junk, junk, sizeof junk, e) < 0)
			goto fail;
		if (junk[0] == '\0') {
			err_set(e, EX_USAGE, "the junk folder cannot be INBOX");
			goto fail;
		}
		if (file_join(dir, sizeof dir, d->root, junk, e) < 0 || maildir_make(dir, 1, e) < 0)
			goto fail;
	}
	if (file_join(newdir, sizeof newdir, dir, d->info != NULL ? "cur" : "new", e) < 0)
		goto fail;
	if (snprintf(d->path, sizeof d->path, "%s/%s,S=%" PRIu64 ",W=%" PRIu64 "%s%s", newdir,
	             name, d->stats.size, d->stats.size + d->stats.lines, d->info ? ":" : "",
	             d->info ? d->info : "") >= (int)sizeof d->path) {
		err_set(e, EX_USAGE, "path too long in %s", newdir);
		goto fail;
	}
	if (link(tmp, d->path) == 0) {
		linked = 1;
	} else if (errno == EEXIST) {
		err_sys(e, EX_TEMPFAIL, "unable to link %s", d->path);
		goto fail;
	} else if (errno == EPERM || errno == ENOSYS || errno == EOPNOTSUPP || errno == EMLINK) {
		/* File systems without hard links: rename, which the O_EXCL
		 * create above already made unique within tmp/. */
		if (rename(tmp, d->path) < 0) {
			err_sys(e, EX_TEMPFAIL, "unable to rename %s", tmp);
			goto fail;
		}
	} else {
		err_sys(e, EX_TEMPFAIL, "unable to link %s", d->path);
		goto fail;
	}
	if (file_fsync_dir(newdir, e) < 0) {
		/* Not durable, so not delivered: take it back so a retry does
		 * not leave two copies. */
		unlink(d->path);
		goto fail;
	}
	if (linked)
		unlink(tmp);
	/* Delivered: a failed quota update only makes the estimate low until
	 * the next rebuild, which is no reason to deliver twice. */
	if (active)
		(void)quota_add(d->root, (int64_t)d->stats.size, 1, e);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}
