#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "file.h"
#include "io.h"

int file_fsync_dir(const char *path, struct err *e)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_sys(e, EX_TEMPFAIL, "unable to open %s", path);
	if (fsync(fd) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to fsync %s", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int file_dirname(const char *path, char *out, size_t outsz, struct err *e)
{
	char *slash;

	if (snprintf(out, outsz, "%s", path) >= (int)outsz)
		return err_set(e, EX_USAGE, "path too long: %s", path);
	slash = strrchr(out, '/');
	if (slash == NULL)
		snprintf(out, outsz, ".");
	else if (slash == out)
		out[1] = '\0';   /* "/x" -> "/" */
	else
		*slash = '\0';
	return 0;
}

int file_fsync_parent(const char *path, struct err *e)
{
	char dir[PATH_MAX];

	if (file_dirname(path, dir, sizeof dir, e) < 0)
		return -1;
	return file_fsync_dir(dir, e);
}

int file_mkdirs(const char *path, mode_t mode, struct err *e)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	struct stat st;

	if (n == 0 || n >= sizeof buf)
		return err_set(e, EX_USAGE, "bad directory name");
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(buf, mode) == 0) {
			if (file_fsync_parent(buf, e) < 0)
				return -1;
		} else if (errno != EEXIST) {
			return err_sys(e, err_code_for_errno(errno), "unable to create %s", buf);
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	if (stat(path, &st) < 0)
		return err_sys(e, err_code_for_errno(errno), "unable to stat %s", path);
	if (!S_ISDIR(st.st_mode))
		return err_set(e, EX_CANTCREAT, "%s is not a directory", path);
	return 0;
}

int file_join(char *out, size_t outsz, const char *a, const char *b, struct err *e)
{
	int n = snprintf(out, outsz, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= outsz)
		return err_set(e, EX_USAGE, "path too long: %s/%s", a, b);
	return 0;
}

int file_lock(const char *path, unsigned timeout, struct err *e)
{
	char lockpath[PATH_MAX];
	struct flock fl;
	struct timespec nap = {0, 20 * 1000 * 1000};
	unsigned long waited = 0;   /* milliseconds */
	int fd;

	if (snprintf(lockpath, sizeof lockpath, "%s.lock", path) >= (int)sizeof lockpath)
		return err_set(e, EX_USAGE, "path too long: %.64s...", path);
	fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_sys(e, err_code_for_errno(errno), "open %s", lockpath);
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_SETLK, &fl) < 0) {
		if (errno != EACCES && errno != EAGAIN && errno != EINTR) {
			err_sys(e, EX_TEMPFAIL, "lock %s", lockpath);
			close(fd);
			return -1;
		}
		if (waited >= timeout * 1000UL) {
			close(fd);
			return err_set(e, EX_TEMPFAIL, "lock %s: still held after %u seconds",
			               lockpath, timeout);
		}
		nanosleep(&nap, NULL);
		waited += 20;
	}
	return fd;
}

int file_replace(const char *path, const void *data, size_t n, mode_t mode,
                 struct stat *st, struct err *e)
{
	char tmp[PATH_MAX];
	struct stat old;
	int fd, have_old;

	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return err_set(e, EX_USAGE, "path too long: %.64s...", path);
	have_old = stat(path, &old) == 0;
	if (!have_old && errno != ENOENT)
		return err_sys(e, err_code_for_errno(errno), "stat %s", path);
	(void)unlink(tmp);   /* debris of an earlier run with our pid */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, have_old ? 0600 : mode);
	if (fd < 0)
		return err_sys(e, err_code_for_errno(errno), "create %s", tmp);
	if (io_write_all(fd, data, n) < 0) {
		err_sys(e, err_code_for_errno(errno), "write %s", tmp);
		goto fail;
	}
	/* Owner first: fchown clears set-id bits, and fchmod then sets the
	 * mode the old file had. Only root may give a file away; others keep
	 * their own ownership, as any editor would. */
	if (have_old) {
		if (fchown(fd, old.st_uid, old.st_gid) < 0 && errno != EPERM) {
			err_sys(e, EX_TEMPFAIL, "chown %s", tmp);
			goto fail;
		}
		if (fchmod(fd, old.st_mode & 07777) < 0) {
			err_sys(e, EX_TEMPFAIL, "chmod %s", tmp);
			goto fail;
		}
	}
	if (fsync(fd) < 0) {
		err_sys(e, EX_TEMPFAIL, "fsync %s", tmp);
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		err_sys(e, err_code_for_errno(errno), "rename %s", tmp);
		goto fail;
	}
	/* After the rename, which changes the ctime on some file systems. */
	if (st != NULL && fstat(fd, st) < 0) {
		close(fd);
		return err_sys(e, EX_TEMPFAIL, "stat %s", path);
	}
	if (close(fd) < 0)
		return err_sys(e, EX_TEMPFAIL, "close %s", path);
	return file_fsync_parent(path, e);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

int file_read_all(const char *path, size_t max, char **data, size_t *len,
                  int missing_ok, struct err *e)
{
	size_t cap = 0;
	char *buf = NULL;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*data = NULL;
	*len = 0;
	if (fd < 0 && errno == ENOENT && missing_ok)
		return 0;
	if (fd < 0)
		return err_sys(e, EX_TEMPFAIL, "open %s", path);
	for (;;) {
		if (cap - *len < IO_BUFSIZE) {
			char *nb;

			cap = cap ? 2 * cap : 4 * IO_BUFSIZE;
			if ((nb = realloc(buf, cap)) == NULL)
				goto fail;   /* the size check after each read bounds cap */
			buf = nb;
		}
		r = io_read(fd, buf + *len, cap - *len);
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		*len += (size_t)r;
		if (*len > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	*data = buf;
	return 0;
fail:
	err_sys(e, EX_TEMPFAIL, "read %s", path);
	close(fd);
	free(buf);
	return -1;
}

int file_scratch(const char *dir, struct err *e)
{
	char path[PATH_MAX];
	int fd;

	if (dir == NULL && ((dir = getenv("TMPDIR")) == NULL || dir[0] == '\0'))
		dir = "/tmp";
	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) >= 0)
		return fd;
	if (snprintf(path, sizeof path, "%s/scratch.XXXXXX", dir) >= (int)sizeof path)
		return err_set(e, EX_TEMPFAIL, "temporary directory name too long: %.200s", dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0)
		return err_sys(e, EX_TEMPFAIL, "cannot make a temporary file in %.200s", dir);
	unlink(path);
	return fd;
}
