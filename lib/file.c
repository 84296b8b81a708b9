#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "file.h"

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
