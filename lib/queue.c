#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "queue.h"

static const char *const subdirs[] = { "tmp", "msg", "state", "hold" };

int queue_init(const char *dir, struct err *e)
{
	char path[PATH_MAX];
	size_t i;

	/* others may pass through it to incoming/, and see nothing else */
	if (mkdir(dir, 0711) == 0 || (errno == ENOENT && file_mkdirs(dir, 0711, e) == 0)) {
		if (chmod(dir, 0711) < 0)
			return err_sys(e, err_code_for_errno(errno), "chmod %s", dir);
		if (file_fsync_parent(dir, e) < 0)
			return -1;
	}
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
	/* where users who cannot write tmp/ drop messages: sticky like /tmp,
	 * and readable, because fsync(2) of a directory needs a descriptor
	 * opened for reading (the files are 0600: only names show) */
	if (file_join(path, sizeof path, dir, "incoming", e) < 0)
		return -1;
	if (mkdir(path, 01777) == 0 && (chmod(path, 01777) < 0 || file_fsync_parent(path, e) < 0))
		return err_sys(e, err_code_for_errno(errno), "chmod %s", path);
	if (file_join(path, sizeof path, dir, "trigger", e) < 0)
		return -1;
	/* anyone may wake the runner: users who drop mail into incoming/ */
	if (mkfifo(path, 0622) == 0)
		(void)chmod(path, 0622);
	else if (errno != EEXIST)
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
	return queue_open_in(m, dir, QUEUE_MSG, env, e);
}

int queue_open_in(struct queue_msg *m, const char *dir, enum queue_where where,
                  const struct queue_env *env, struct err *e)
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
	m->where = where;
	if (snprintf(m->tmp, sizeof m->tmp, where == QUEUE_MSG ? "%s/tmp/%s" : "%s/incoming/.%s",
	             dir, m->id) >= (int)sizeof m->tmp)
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
	char path[PATH_MAX + QUEUE_ID_MAX + 16], size[21];

	snprintf(size, sizeof size, "%020llu", (unsigned long long)m->size);
	if (io_out_flush(m->out) < 0 ||
	    pwrite(m->fd, size, 20, (off_t)m->size_at) != 20) {
		err_sys(e, EX_TEMPFAIL, "write %s", m->tmp);
		goto fail;
	}
	snprintf(path, sizeof path, "%s/%s/%s", m->dir, m->where == QUEUE_MSG ? "msg" : "incoming",
	         m->id);
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

#define ENVELOPE_MAX (16UL << 20)

/* Split line into at most max TAB-separated fields in place; returns the
 * count. */
static int fields(char *line, char **f, int max)
{
	int n = 0;

	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == '\t') {
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

static int digits_value(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int queue_load(struct queue_file *f, const char *path, struct err *e)
{
	const char *base = strrchr(path, '/');
	size_t len = 0, cap = 0, nrcpt = 0, rcap = 0;
	char *end = NULL, *line, *next;
	struct stat st;
	uint64_t v;
	int have_size = 0;

	memset(f, 0, sizeof *f);
	base = base ? base + 1 : path;
	if (snprintf(f->id, sizeof f->id, "%s", base) >= (int)sizeof f->id)
		return err_set(e, EX_DATAERR, "%s: name too long for a queue ID", path);
	/* never a link: incoming/ is open to every user */
	f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (f->fd < 0)
		return err_sys(e, errno == ENOENT ? EX_NOINPUT : errno == ELOOP ? EX_DATAERR : EX_TEMPFAIL,
		               "open %s", path);
	if (fstat(f->fd, &st) < 0) {
		err_sys(e, EX_TEMPFAIL, "stat %s", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(e, EX_DATAERR, "%s is not a regular file", path);
		goto fail;
	}
	f->uid = st.st_uid;
	/* the envelope: up to the first empty line */
	while (end == NULL) {
		ssize_t r;

		if (len + 4096 + 1 > cap) {
			char *p;

			if (cap >= ENVELOPE_MAX) {
				err_set(e, EX_DATAERR, "%s: envelope longer than %lu bytes", path,
				        ENVELOPE_MAX);
				goto fail;
			}
			cap = cap ? cap * 2 : 16384;
			if ((p = realloc(f->text, cap)) == NULL) {
				err_sys(e, EX_TEMPFAIL, "%s", path);
				goto fail;
			}
			f->text = p;
		}
		r = pread(f->fd, f->text + len, cap - len - 1, (off_t)len);
		if (r < 0) {
			err_sys(e, EX_TEMPFAIL, "read %s", path);
			goto fail;
		}
		if (r == 0) {
			err_set(e, EX_DATAERR, "%s: no end of envelope", path);
			goto fail;
		}
		f->text[len + (size_t)r] = '\0';
		if (memchr(f->text + len, '\0', (size_t)r) != NULL) {
			err_set(e, EX_DATAERR, "%s: NUL in the envelope", path);
			goto fail;
		}
		end = strstr(len ? f->text + len - 1 : f->text, "\n\n");
		len += (size_t)r;
	}
	f->body_at = (uint64_t)(end - f->text) + 2;
	end[1] = '\0';
	f->env.sender = NULL;
	for (line = f->text; *line; line = next) {
		char *fl[4];
		int nf;

		next = strchr(line, '\n');
		*next++ = '\0';
		nf = fields(line, fl, 4);
		if (line == f->text) {
			if (nf != 2 || strcmp(fl[0], "mail-queue") != 0 || strcmp(fl[1], "1") != 0) {
				err_set(e, EX_DATAERR, "%s: not a mail-queue 1 file", path);
				goto fail;
			}
		} else if (strcmp(fl[0], "size") == 0 && nf == 2 && digits_value(fl[1], &v) == 0) {
			f->size = v;
			have_size = 1;
		} else if (strcmp(fl[0], "arrival") == 0 && nf == 2 && digits_value(fl[1], &v) == 0) {
			f->arrival = (long long)v;
		} else if (strcmp(fl[0], "sender") == 0 && nf == 2) {
			f->env.sender = fl[1];
		} else if (strcmp(fl[0], "body") == 0 && nf == 2) {
			f->env.body = fl[1];
		} else if (strcmp(fl[0], "smtputf8") == 0 && nf == 1) {
			f->env.smtputf8 = 1;
		} else if (strcmp(fl[0], "ret") == 0 && nf == 2) {
			f->env.ret = fl[1];
		} else if (strcmp(fl[0], "envid") == 0 && nf == 2) {
			f->env.envid = fl[1];
		} else if (strcmp(fl[0], "client") == 0 && nf == 2) {
			f->env.client = fl[1];
		} else if (strcmp(fl[0], "rcpt") == 0 && nf == 4 && fl[1][0] != '\0') {
			if (nrcpt == rcap) {
				struct queue_rcpt *p;

				rcap = rcap ? rcap * 2 : 8;
				if ((p = realloc(f->rcpt, rcap * sizeof *p)) == NULL) {
					err_sys(e, EX_TEMPFAIL, "%s", path);
					goto fail;
				}
				f->rcpt = p;
			}
			f->rcpt[nrcpt].address = fl[1];
			f->rcpt[nrcpt].notify = fl[2][0] ? fl[2] : NULL;
			f->rcpt[nrcpt].orcpt = fl[3][0] ? fl[3] : NULL;
			nrcpt++;
		} else {
			/* a later version may add lines; this one must not guess */
			err_set(e, EX_DATAERR, "%s: unknown envelope line \"%.40s\"", path, fl[0]);
			goto fail;
		}
	}
	if (!have_size || f->env.sender == NULL || nrcpt == 0) {
		err_set(e, EX_DATAERR, "%s: envelope without %s", path,
		        !have_size ? "size" : f->env.sender == NULL ? "sender" : "recipients");
		goto fail;
	}
	if ((uint64_t)st.st_size != f->body_at + f->size) {
		err_set(e, EX_IOERR, "%s: message part is %lld bytes, its size line says %llu",
		        path, (long long)st.st_size - (long long)f->body_at,
		        (unsigned long long)f->size);
		goto fail;
	}
	f->env.rcpt = f->rcpt;
	f->env.nrcpt = nrcpt;
	return 0;
fail:
	queue_file_free(f);
	return -1;
}

void queue_file_free(struct queue_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->text);
	free(f->rcpt);
	f->text = NULL;
	f->rcpt = NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

long queue_list(const char *dir, const char *sub, char ***ids, struct err *e)
{
	char path[PATH_MAX];
	struct dirent *d;
	char **v = NULL;
	size_t n = 0, cap = 0;
	DIR *dp;

	*ids = NULL;
	if (file_join(path, sizeof path, dir, sub, e) < 0)
		return -1;
	if ((dp = opendir(path)) == NULL) {
		if (errno == ENOENT)
			return 0;
		return err_sys(e, EX_TEMPFAIL, "open %s", path);
	}
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.' || strlen(d->d_name) >= QUEUE_ID_MAX)
			continue;
		if (n == cap) {
			char **p;

			cap = cap ? cap * 2 : 64;
			if ((p = realloc(v, cap * sizeof *p)) == NULL)
				goto oom;
			v = p;
		}
		if ((v[n] = strdup(d->d_name)) == NULL)
			goto oom;
		n++;
	}
	closedir(dp);
	if (n > 0)
		qsort(v, n, sizeof *v, cmp_str);
	*ids = v;
	return (long)n;
oom:
	closedir(dp);
	queue_list_free(v, (long)n);
	return err_sys(e, EX_TEMPFAIL, "list %s", path);
}

void queue_list_free(char **ids, long n)
{
	for (long i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/* ---- state files ---- */

static const char *const status_names[] = {
	[QS_DELIVERED] = "delivered", [QS_DEFERRED] = "deferred", [QS_FAILED] = "failed",
};

int queue_state_lock(struct queue_state *s, const char *dir, const char *id,
                     struct err *e)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	memset(s, 0, sizeof *s);
	s->fd = -1;
	if (snprintf(s->path, sizeof s->path, "%s/state/%s", dir, id) >= (int)sizeof s->path)
		return err_set(e, EX_CONFIG, "queue path too long");
	s->fd = open(s->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (s->fd < 0)
		return err_sys(e, err_code_for_errno(errno), "open %s", s->path);
	if (fcntl(s->fd, F_SETLK, &fl) < 0) {
		int busy = errno == EACCES || errno == EAGAIN;

		if (!busy)
			err_sys(e, EX_TEMPFAIL, "lock %s", s->path);
		close(s->fd);
		s->fd = -1;
		return busy ? 0 : -1;
	}
	return 1;
}

static struct queue_event *state_slot(struct queue_state *s, size_t rcpt, const char *target)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ev[i].rcpt == rcpt && strcmp(s->ev[i].target, target) == 0)
			return &s->ev[i];
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct queue_event *p = realloc(s->ev, cap * sizeof *p);

		if (p == NULL)
			return NULL;
		s->ev = p;
		s->cap = cap;
	}
	memset(&s->ev[s->n], 0, sizeof s->ev[s->n]);
	s->ev[s->n].rcpt = rcpt;
	if ((s->ev[s->n].target = strdup(target)) == NULL)
		return NULL;
	return &s->ev[s->n++];
}

/* Keep an event in memory; -1 when out of memory. */
static int state_keep(struct queue_state *s, enum queue_status st, size_t rcpt,
                      const char *target, long long at, long long next, const char *text)
{
	struct queue_event *ev = state_slot(s, rcpt, target);
	char *t = strdup(text);

	if (ev == NULL || t == NULL) {
		free(t);
		return -1;
	}
	free(ev->text);
	ev->text = t;
	ev->st = st;
	ev->at = at;
	ev->next = next;
	if (st == QS_DEFERRED)
		ev->tries++;
	return 0;
}

/* The whole state file, read through s->fd: opening and closing it by
 * its path would drop the fcntl lock (POSIX drops a process's locks on a
 * file at the first close of any descriptor for it). */
static int state_slurp(struct queue_state *s, char **data, size_t *len, struct err *e)
{
	struct stat st;
	size_t got = 0;

	*data = NULL;
	*len = 0;
	if (fstat(s->fd, &st) < 0)
		return err_sys(e, EX_TEMPFAIL, "stat %s", s->path);
	if (st.st_size > (off_t)(64L << 20))
		return err_set(e, EX_TEMPFAIL, "%s: larger than 64 MB", s->path);
	if ((*data = malloc((size_t)st.st_size + 1)) == NULL)
		return err_sys(e, EX_TEMPFAIL, "%s", s->path);
	while (got < (size_t)st.st_size) {
		ssize_t r = pread(s->fd, *data + got, (size_t)st.st_size - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(*data);
			*data = NULL;
			return err_sys(e, EX_TEMPFAIL, "read %s", s->path);
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*len = got;
	return 0;
}

int queue_state_read(struct queue_state *s, size_t nrcpt, struct err *e)
{
	char *data = NULL, *line, *next;
	size_t len;

	s->nrcpt = nrcpt;
	if ((s->notified = calloc(nrcpt ? nrcpt : 1, 1)) == NULL)
		return err_sys(e, EX_TEMPFAIL, "%s", s->path);
	if (state_slurp(s, &data, &len, e) < 0)
		return -1;
	for (line = data; line < data + len; line = next) {
		char *f[6];
		uint64_t rcpt, at, nx;
		enum queue_status st = QS_NONE;

		next = memchr(line, '\n', (size_t)(data + len - line));
		if (next == NULL) {
			/* cut short by a crash: end it so the next line starts clean */
			if (write(s->fd, "\n", 1) != 1)
				s->error = errno;
			break;
		}
		*next++ = '\0';
		if (memchr(line, '\0', (size_t)(next - 1 - line)) != NULL ||
		    fields(line, f, 6) != 6 || digits_value(f[1], &rcpt) < 0 ||
		    digits_value(f[3], &at) < 0 || digits_value(f[4], &nx) < 0 ||
		    rcpt >= (nrcpt ? nrcpt : 1))
			continue;
		for (int k = QS_DELIVERED; k <= QS_FAILED; k++)
			if (strcmp(f[0], status_names[k]) == 0)
				st = (enum queue_status)k;
		if (st != QS_NONE) {
			if (f[2][0] == '\0' ||
			    state_keep(s, st, (size_t)rcpt, f[2], (long long)at, (long long)nx, f[5]) < 0)
				continue;
		} else if (strcmp(f[0], "notified") == 0) {
			s->notified[rcpt] = 1;
		} else if (strcmp(f[0], "warned") == 0) {
			s->warned = 1;
		} else if (strcmp(f[0], "notice-failed") == 0) {
			s->notice_next = (long long)nx;
		}
	}
	free(data);
	return 0;
}

const struct queue_event *queue_state_get(const struct queue_state *s, size_t rcpt,
                                          const char *target)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ev[i].rcpt == rcpt && strcmp(s->ev[i].target, target) == 0)
			return &s->ev[i];
	return NULL;
}

/* One state line: six TAB-separated fields (target and text already
 * cleaned of TABs and line ends), cut to 2 KB. */
static void state_line(struct queue_state *s, const char *what, size_t rcpt,
                       const char *target, long long at, long long next, const char *text)
{
	char buf[2048];
	int n = snprintf(buf, sizeof buf, "%s\t%zu\t%s\t%lld\t%lld\t%s", what, rcpt, target,
	                 at, next, text);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof buf - 1)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	if (io_write_all(s->fd, buf, (size_t)n) < 0 && s->error == 0)
		s->error = errno;
}

static void clean_field(char *out, size_t outsz, const char *in)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < outsz; i++)
		out[i] = (in[i] == '\t' || in[i] == '\n' || in[i] == '\r') ? ' ' : in[i];
	out[i] = '\0';
}

void queue_state_record(struct queue_state *s, enum queue_status st, size_t rcpt,
                        const char *target, long long next, const char *text)
{
	char t[1024], x[1024];
	long long now = (long long)time(NULL);

	clean_field(t, sizeof t, target);
	clean_field(x, sizeof x, text);
	if (st != QS_DEFERRED)
		next = 0;
	state_line(s, status_names[st], rcpt, t, now, next, x);
	if (state_keep(s, st, rcpt, t, now, next, x) < 0 && s->error == 0)
		s->error = ENOMEM;
}

void queue_state_notified(struct queue_state *s, size_t rcpt, const char *dsn_id)
{
	long long now = (long long)time(NULL);

	if (rcpt == (size_t)-1) {
		state_line(s, "warned", 0, "-", now, 0, dsn_id);
		s->warned = 1;
	} else {
		state_line(s, "notified", rcpt, "-", now, 0, dsn_id);
		if (rcpt < s->nrcpt)
			s->notified[rcpt] = 1;
	}
}

void queue_state_notice_failed(struct queue_state *s, long long next, const char *text)
{
	char x[1024];

	clean_field(x, sizeof x, text);
	state_line(s, "notice-failed", 0, "-", (long long)time(NULL), next, x);
	s->notice_next = next;
}

int queue_state_sync(struct queue_state *s, struct err *e)
{
	if (s->error != 0) {
		errno = s->error;
		return err_sys(e, EX_TEMPFAIL, "write %s", s->path);
	}
	if (fdatasync(s->fd) < 0)
		return err_sys(e, EX_TEMPFAIL, "fsync %s", s->path);
	return 0;
}

void queue_state_close(struct queue_state *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	for (size_t i = 0; i < s->n; i++) {
		free(s->ev[i].target);
		free(s->ev[i].text);
	}
	free(s->ev);
	free(s->notified);
	s->ev = NULL;
	s->notified = NULL;
	s->n = s->cap = 0;
}

int queue_remove(const char *dir, const char *sub, const char *id, struct err *e)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof path, "%s/%s/%s", dir, sub, id) >= (int)sizeof path)
		return err_set(e, EX_CONFIG, "queue path too long");
	if (unlink(path) < 0 && errno != ENOENT)
		return err_sys(e, EX_TEMPFAIL, "remove %s", path);
	if (file_fsync_parent(path, e) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/state/%s", dir, id);
	if (unlink(path) < 0 && errno != ENOENT)
		return err_sys(e, EX_TEMPFAIL, "remove %s", path);
	return 0;
}
