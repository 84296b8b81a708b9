#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "io.h"
#include "mbox.h"

#define DOTLOCK_STALE 300     /* seconds, as liblockfile */
#define LOCK_POLL_NS 50000000L

static void pause_a_little(void)
{
	struct timespec ts = { 0, LOCK_POLL_NS };
	nanosleep(&ts, NULL);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Returns 1 locked, 0 not possible here (directory not writable), -1 error. */
static int dotlock(const char *path, double deadline, struct mbox_lock *lk, struct err *e)
{
	char uniq[PATH_MAX], host[64];
	struct stat st;
	int fd;

	if (gethostname(host, sizeof host - 1) < 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	for (char *h = host; *h != '\0'; h++)
		if (*h == '/')
			*h = '_';
	if (snprintf(lk->dotlock, sizeof lk->dotlock, "%s.lock", path) >= (int)sizeof lk->dotlock ||
	    snprintf(uniq, sizeof uniq, "%s.lock.%s.%ld", path, host, (long)getpid()) >= (int)sizeof uniq)
		return err_set(e, EX_USAGE, "mbox path too long: %s", path);

	unlink(uniq);
	fd = open(uniq, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno == EACCES || errno == EROFS || errno == EPERM)
			return 0;
		return err_sys(e, EX_TEMPFAIL, "unable to create %s", uniq);
	}
	dprintf(fd, "%ld\n", (long)getpid());
	close(fd);

	for (;;) {
		/* link() may fail yet have worked on NFS: the link count decides. */
		if (link(uniq, lk->dotlock) < 0 && errno != EEXIST && errno != EIO) {
			err_sys(e, EX_TEMPFAIL, "unable to create %s", lk->dotlock);
			unlink(uniq);
			return -1;
		}
		if (stat(uniq, &st) == 0 && st.st_nlink == 2) {
			unlink(uniq);
			lk->dotlocked = 1;
			return 1;
		}
		if (lstat(lk->dotlock, &st) == 0 && time(NULL) - st.st_mtime > DOTLOCK_STALE) {
			unlink(lk->dotlock);
			continue;
		}
		if (now_s() >= deadline) {
			unlink(uniq);
			return err_set(e, EX_TEMPFAIL, "unable to lock %s: %s exists (timeout)", path, lk->dotlock);
		}
		pause_a_little();
	}
}

int mbox_lock(const char *path, int timeout, struct mbox_lock *lk, struct err *e)
{
	struct flock fl;
	struct stat st;
	double deadline = now_s() + timeout;
	/* O_NONBLOCK: opening a FIFO planted at path must not hang. */
	const int flags = O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;

	lk->dotlocked = 0;
	lk->dotlock[0] = '\0';
	lk->created = 0;
	lk->fd = open(path, flags);
	if (lk->fd < 0 && errno == ENOENT) {
		/* A missing directory on the way is made, as for a Maildir. */
		char dir[PATH_MAX];
		if (file_dirname(path, dir, sizeof dir, e) < 0 || file_mkdirs(dir, 0700, e) < 0)
			return -1;
		lk->fd = open(path, flags | O_CREAT, 0600);
		lk->created = lk->fd >= 0;
	}
	if (lk->fd < 0) {
		if (errno == ELOOP)
			return err_set(e, EX_NOPERM, "refusing to deliver to %s: it is a symbolic link", path);
		if (errno == EISDIR)
			return err_set(e, EX_NOPERM, "refusing to deliver to %s: not a regular file", path);
		return err_sys(e, err_code_for_errno(errno), "unable to open %s", path);
	}
	if (fstat(lk->fd, &st) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to stat %s", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(e, EX_NOPERM, "refusing to deliver to %s: not a regular file", path);
		goto fail;
	}
	if (st.st_nlink > 1) {
		err_set(e, EX_NOPERM, "refusing to deliver to %s: it has %lu hard links", path,
		        (unsigned long)st.st_nlink);
		goto fail;
	}
	/* O_NONBLOCK only guarded the open against a FIFO planted at path. */
	fcntl(lk->fd, F_SETFL, O_APPEND);

	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(lk->fd, F_SETLK, &fl) < 0) {
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
			err_sys(e, EX_TEMPFAIL, "unable to lock %s", path);
			goto fail;
		}
		if (now_s() >= deadline) {
			err_set(e, EX_TEMPFAIL, "unable to lock %s: held by another process (timeout)", path);
			goto fail;
		}
		pause_a_little();
	}
	if (dotlock(path, deadline, lk, e) < 0)
		goto fail;
	/* A reader that rewrites the mbox (mail-pop3d, a MUA) renames a new
	 * file over it while we wait: the file we locked is then gone, and
	 * what we append to it would be lost. Start again on the new one. */
	{
		struct stat now;

		if (stat(path, &now) < 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
			mbox_unlock(lk);
			if (now_s() >= deadline)
				return err_set(e, EX_TEMPFAIL, "unable to lock %s: replaced while waiting", path);
			return mbox_lock(path, (int)(deadline - now_s()) + 1, lk, e);
		}
	}
	return 0;
fail:
	close(lk->fd);
	lk->fd = -1;
	return -1;
}

void mbox_unlock(struct mbox_lock *lk)
{
	if (lk->dotlocked)
		unlink(lk->dotlock);
	lk->dotlocked = 0;
	if (lk->fd >= 0)
		close(lk->fd);   /* drops the fcntl lock */
	lk->fd = -1;
}

/* Copy a non-seekable input into an unlinked temporary file. */
static int spool(int in_fd, int *out, struct err *e)
{
	char *buf;
	int fd;
	ssize_t r;

	if ((fd = file_scratch(NULL, e)) < 0)
		return -1;
	buf = malloc(IO_BUFSIZE);
	if (buf == NULL) {
		close(fd);
		return err_set(e, EX_TEMPFAIL, "out of memory");
	}
	while ((r = io_read(in_fd, buf, IO_BUFSIZE)) > 0)
		if (io_write_all(fd, buf, (size_t)r) < 0) {
			r = -1;
			break;
		}
	free(buf);
	if (r < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to spool the message");
		close(fd);
		return -1;
	}
	*out = fd;
	return 0;
}

/* Bytes needed before a new "From " line so the last message ends in a
 * blank line: 0 for an empty file or one ending "\n\n". */
static int padding(int fd, off_t size)
{
	char tail[2];
	ssize_t n;

	if (size == 0)
		return 0;
	n = pread(fd, tail, size >= 2 ? 2 : 1, size >= 2 ? size - 2 : 0);
	if (n <= 0)
		return 0;
	if (tail[n - 1] != '\n')
		return 2;
	return n == 2 && tail[0] == '\n' ? 0 : 1;
}

int mbox_deliver(struct mbox_delivery *d, int in_fd, struct err *e)
{
	struct mbox_lock lk;
	struct stat st;
	struct msg_opts mo = *d->msg;
	char from[1100], date[64];
	const char *sender = d->sender;
	time_t now = time(NULL);
	struct tm tm;
	int src = in_fd, n, pad, rc = -1;
	off_t orig;

	mo.mboxrd = 1;
	if (fstat(in_fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (spool(in_fd, &src, e) < 0)
			return -1;
	}
	if (sender == NULL || sender[0] == '\0')
		sender = "MAILER-DAEMON";
	gmtime_r(&now, &tm);   /* RFC 4155: the From_ line date is UTC */
	strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
	n = snprintf(from, sizeof from, "\n\nFrom %s %s\n", sender, date);
	if (n < 0 || (size_t)n >= sizeof from) {
		err_set(e, EX_USAGE, "sender address too long");
		goto out;
	}
	/* The sender is one word on one line: blanks (a quoted local part) and
	 * any control character become '_'. */
	for (char *p = from + 7; p < from + 7 + strlen(sender); p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			*p = '_';

	if (mbox_lock(d->path, d->lock_timeout, &lk, e) < 0)
		goto out;
	if (fstat(lk.fd, &st) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to stat %s", d->path);
		goto unlock;
	}
	orig = st.st_size;
	pad = padding(lk.fd, orig);
	if (io_write_all(lk.fd, from + 2 - pad, (size_t)(n - 2 + pad)) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to write %s", d->path);
		goto undo;
	}
	if (message_copy(src, lk.fd, &mo, &d->stats, e) < 0)
		goto undo;
	if (io_write_all(lk.fd, "\n", 1) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to write %s", d->path);
		goto undo;
	}
	if (fsync(lk.fd) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to fsync %s", d->path);
		goto undo;
	}
	if (lk.created && file_fsync_parent(d->path, e) < 0)
		goto undo;
	rc = 0;
	goto unlock;
undo:
	if (ftruncate(lk.fd, orig) == 0)
		(void)fsync(lk.fd);
unlock:
	mbox_unlock(&lk);
out:
	if (src != in_fd)
		close(src);
	return rc;
}
