#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sysexits.h>
#include <unistd.h>

#include "file.h"
#include "queue.h"

static const char *const subdirs[] = { "tmp", "msg", "state" };

int queue_init(const char *dir, struct err *e)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof subdirs / sizeof *subdirs; i++) {
		if (file_join(path, sizeof path, dir, subdirs[i], e) < 0)
			return -1;
		/* one mkdir and one stat in the usual case: every connection
		 * calls this */
		if (mkdir(path, 0700) == 0) {
			if (file_fsync_parent(path, e) < 0)
				return -1;
		} else if (errno == EEXIST) {
			struct stat st;

			if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
				return err_set(e, EX_CANTCREAT, "%s is not a directory", path);
		} else if (file_mkdirs(path, 0700, e) < 0) {
			return -1;
		}
	}
	if (file_join(path, sizeof path, dir, "trigger", e) < 0)
		return -1;
	if (mkfifo(path, 0600) < 0 && errno != EEXIST)
		return err_sys(e, err_code_for_errno(errno), "mkfifo %s", path);
	return 0;
}

/* One envelope line: key, then TAB-separated values (none holds a TAB or
 * a line end: SMTP paths and parameters cannot). */
static void env_line(struct io_out *o, const char *key, const char *v1, const char *v2,
                     const char *v3)
{
	const char *v[3] = { v1, v2, v3 };

	io_out_write(o, key, strlen(key));
	for (int i = 0; i < 3; i++)
		if (v[i] != NULL) {
			io_out_write(o, "\t", 1);
			io_out_write(o, v[i], strlen(v[i]));
		}
	io_out_write(o, "\n", 1);
}

int queue_open(struct queue_msg *m, const char *dir, const struct queue_env *env,
               struct err *e)
{
	static unsigned counter;
	struct timeval tv;
	char arrival[32];
	size_t i;

	memset(m, 0, sizeof *m);
	m->fd = -1;
	if (snprintf(m->dir, sizeof m->dir, "%s", dir) >= (int)sizeof m->dir)
		return err_set(e, EX_CONFIG, "queue path too long");
	gettimeofday(&tv, NULL);
	snprintf(m->id, sizeof m->id, "%lld.M%06ldP%ldQ%u", (long long)tv.tv_sec,
	         (long)tv.tv_usec, (long)getpid(), ++counter);
	if (snprintf(m->tmp, sizeof m->tmp, "%s/tmp/%s", dir, m->id) >= (int)sizeof m->tmp)
		return err_set(e, EX_CONFIG, "queue path too long");
	m->fd = open(m->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (m->fd < 0)
		return err_sys(e, err_code_for_errno(errno), "create %s", m->tmp);
	m->out = malloc(sizeof *m->out);
	if (m->out == NULL) {
		queue_abort(m);
		return err_sys(e, EX_TEMPFAIL, "queue");
	}
	io_out_init(m->out, m->fd);
	snprintf(arrival, sizeof arrival, "%lld", (long long)tv.tv_sec);
	env_line(m->out, "mail-queue", "1", NULL, NULL);
	/* filled in by queue_commit: fixed width, so it is overwritten in place */
	m->size_at = m->out->written + 5;
	env_line(m->out, "size", "00000000000000000000", NULL, NULL);
	env_line(m->out, "arrival", arrival, NULL, NULL);
	env_line(m->out, "sender", env->sender, NULL, NULL);
	if (env->body)
		env_line(m->out, "body", env->body, NULL, NULL);
	if (env->smtputf8)
		env_line(m->out, "smtputf8", NULL, NULL, NULL);
	if (env->ret)
		env_line(m->out, "ret", env->ret, NULL, NULL);
	if (env->envid)
		env_line(m->out, "envid", env->envid, NULL, NULL);
	if (env->client)
		env_line(m->out, "client", env->client, NULL, NULL);
	for (i = 0; i < env->nrcpt; i++)
		env_line(m->out, "rcpt", env->rcpt[i].address,
		         env->rcpt[i].notify ? env->rcpt[i].notify : "",
		         env->rcpt[i].orcpt ? env->rcpt[i].orcpt : "");
	io_out_write(m->out, "\n", 1);
	m->body_at = m->out->written;
	return 0;
}

int queue_flush(struct queue_msg *m, struct err *e)
{
	if (io_out_flush(m->out) < 0)
		return err_sys(e, EX_TEMPFAIL, "write %s", m->tmp);
	return 0;
}

void queue_write(struct queue_msg *m, const void *p, size_t n)
{
	io_out_write(m->out, p, n);
	m->size += n;
}

int queue_commit(struct queue_msg *m, struct err *e)
{
	char path[PATH_MAX + QUEUE_ID_MAX + 8], size[21];

	snprintf(size, sizeof size, "%020llu", (unsigned long long)m->size);
	if (io_out_flush(m->out) < 0 ||
	    pwrite(m->fd, size, 20, (off_t)m->size_at) != 20) {
		err_sys(e, EX_TEMPFAIL, "write %s", m->tmp);
		goto fail;
	}
	snprintf(path, sizeof path, "%s/msg/%s", m->dir, m->id);
	if (rename(m->tmp, path) < 0) {
		err_sys(e, EX_TEMPFAIL, "rename %s", m->tmp);
		goto fail;
	}
	/* From here the file is in msg/: a failure takes it back out, so that
	 * a message the client will send again is not delivered twice. */
	if (fsync(m->fd) < 0) {
		err_sys(e, EX_TEMPFAIL, "fsync %s", path);
		goto unlink;
	}
	if (close(m->fd) < 0) {
		m->fd = -1;
		err_sys(e, EX_TEMPFAIL, "close %s", path);
		goto unlink;
	}
	m->fd = -1;
	if (file_fsync_parent(path, e) < 0)
		goto unlink;
	free(m->out);
	m->out = NULL;
	return 0;
unlink:
	if (unlink(path) == 0)
		(void)file_fsync_parent(path, e);
	m->tmp[0] = '\0';   /* nothing left in tmp/ */
fail:
	queue_abort(m);
	return -1;
}

void queue_abort(struct queue_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	if (m->tmp[0])
		unlink(m->tmp);
	free(m->out);
	m->out = NULL;
}

void queue_trigger(const char *dir)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof path, "%s/trigger", dir) >= (int)sizeof path)
		return;
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;   /* ENXIO: no runner is listening; cron will come */
	(void)!write(fd, "", 1);
	close(fd);
}
