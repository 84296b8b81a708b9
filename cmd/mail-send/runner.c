/* runner.c: the queue runner. Each message in msg/ is taken under its
 * lock (the fcntl lock of its state file), its due recipients are
 * delivered, every outcome is appended to the state file and made durable
 * before anything depends on it, DSNs are queued for what failed (and
 * what asked for them), and a message with nothing left to do is removed.
 *
 * A recipient's own line in the state file (target "*") says where it
 * stands: none yet, delivered, failed, or deferred until a time. Lines
 * for the places an alias sent it (targets) keep an alias from being
 * delivered twice when one of its targets has to be retried. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "err.h"
#include "file.h"
#include "io.h"
#include "send.h"

#define SUMMARY "*"              /* the target of a recipient's own line */
#define DEBRIS_AGE (36 * 3600)   /* debris: files older than this, writer gone */

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void log_outcome(const char *id, const char *rcpt, const char *target,
                        const struct outcome *o)
{
	static const char *const word[] = {
		[QS_DELIVERED] = "delivered", [QS_DEFERRED] = "deferred", [QS_FAILED] = "failed",
	};
	char safe[700];

	err_escape(safe, sizeof safe, o->text, strlen(o->text));
	if (strcmp(rcpt, target) == 0)
		fprintf(stderr, "mail-send: id=%s to=<%s> status=%s reason=\"%s\"\n", id, rcpt,
		        word[o->st], safe);
	else
		fprintf(stderr, "mail-send: id=%s to=<%s> via=%s status=%s reason=\"%s\"\n", id,
		        rcpt, target, word[o->st], safe);
}

/* Does the DSN NOTIFY value of a recipient ask for this kind? NOTIFY
 * absent means failures and delays (RFC 3461, 4.1). */
static int wants(const char *notify, const char *kind)
{
	if (notify == NULL)
		return strcmp(kind, "SUCCESS") != 0;
	return strcasestr(notify, kind) != NULL;
}

/* Is recipient i finished: final, and any DSN it wants queued? */
static int rcpt_done(const struct queue_file *f, const struct queue_state *s, size_t i)
{
	const struct queue_event *ev = queue_state_get(s, i, SUMMARY);

	if (ev == NULL || ev->st == QS_DEFERRED)
		return 0;
	if (f->env.sender[0] == '\0' || s->notified[i])
		return 1;
	return !wants(f->rcpt[i].notify, ev->st == QS_FAILED ? "FAILURE" : "SUCCESS");
}

/* When recipient i is due: 0 now, else the time; -1 when final. */
static long long rcpt_due(const struct send_config *c, const struct queue_state *s, size_t i)
{
	const struct queue_event *ev = queue_state_get(s, i, SUMMARY);

	if (ev == NULL)
		return 0;
	if (ev->st != QS_DEFERRED)
		return -1;
	return c->flush ? 0 : ev->next;
}

struct work {
	size_t rcpt;
	char *target;                 /* owned */
	int remote;                   /* goes to remote_deliver */
	int summary_only;             /* the recipient itself, not an alias target */
	struct outcome o;
	int done;                     /* o is filled */
	int known;                    /* o comes from the state file: nothing new */
};

static void outcome_set(struct outcome *o, enum queue_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void outcome_set(struct outcome *o, enum queue_status st, const char *fmt, ...)
{
	va_list ap;

	o->st = st;
	va_start(ap, fmt);
	vsnprintf(o->text, sizeof o->text, fmt, ap);
	va_end(ap);
}

static int cmp_work_domain(const void *a, const void *b)
{
	const struct work *x = a, *y = b;

	if (x->remote != y->remote)
		return x->remote - y->remote;
	if (!x->remote)
		return 0;
	return strcasecmp(addr_domain(x->target), addr_domain(y->target));
}

/* Has target had this message already, for another recipient (two
 * aliases of one account, or the account and its alias)? */
static int delivered_before(const struct queue_state *s, const struct work *w, size_t nw,
                            const char *target)
{
	for (size_t i = 0; i < nw; i++)
		if (w[i].done && w[i].o.st == QS_DELIVERED && strcmp(w[i].target, target) == 0)
			return 1;
	for (size_t i = 0; i < s->n; i++)
		if (s->ev[i].st == QS_DELIVERED && strcmp(s->ev[i].target, target) == 0)
			return 1;
	return 0;
}

/* A new, zeroed work item for recipient i at the end of *w. */
static struct work *add_work(struct work **w, size_t *nw, size_t i, const char *target)
{
	struct work *x;

	if ((*w = realloc(*w, (*nw + 1) * sizeof **w)) == NULL)
		cli_die(EX_OSERR, "out of memory");
	x = &(*w)[(*nw)++];
	memset(x, 0, sizeof *x);
	x->rcpt = i;
	if ((x->target = strdup(target)) == NULL)
		cli_die(EX_OSERR, "out of memory");
	return x;
}

/* Expand recipient i into work items: itself when remote, its alias
 * targets when local, each local one delivered here. Targets already
 * delivered or failed are not tried again. */
static void expand(struct send_config *c, const struct queue_file *f,
                   const struct queue_state *s, size_t i, struct work **w, size_t *nw)
{
	const char *addr = f->rcpt[i].address;
	const char *dom = addr_domain(addr);
	struct target *t = NULL;
	size_t nt = 0;
	struct err e = { 0 };
	struct work *x;

	if (dom == NULL || !resolver_is_local(&c->resolver, dom)) {
		x = add_work(w, nw, i, addr);
		x->remote = 1;
		x->summary_only = 1;
		return;
	}
	if (resolve(&c->resolver, addr, &t, &nt, &e) < 0 || nt == 0) {
		x = add_work(w, nw, i, addr);
		x->summary_only = 1;
		x->done = 1;
		if (nt == 0 && e.code == 0)
			outcome_set(&x->o, QS_FAILED, "5.1.1 %s leads nowhere", addr);
		else if (e.code == EX_NOUSER)
			outcome_set(&x->o, QS_FAILED, "5.1.1 %s", e.msg);
		else if (e.code == EX_DATAERR)
			outcome_set(&x->o, QS_FAILED, "5.1.3 %s", e.msg);
		else
			outcome_set(&x->o, QS_DEFERRED, "4.3.0 %s", e.msg);
		return;
	}
	for (size_t k = 0; k < nt; k++) {
		const struct queue_event *ev;
		char key[1100];

		if (t[k].kind == TARGET_ERROR)
			snprintf(key, sizeof key, "error:%s", t[k].reason ? t[k].reason : "");
		else
			snprintf(key, sizeof key, "%s", t[k].address ? t[k].address : "");
		x = add_work(w, nw, i, key);
		ev = queue_state_get(s, i, x->target);
		if (ev != NULL && ev->st != QS_DEFERRED) {
			x->done = 1;
			x->known = 1;
			x->o.st = ev->st;
			snprintf(x->o.text, sizeof x->o.text, "%s", ev->text);
		} else if (t[k].kind == TARGET_REMOTE) {
			x->remote = 1;
		} else if (t[k].kind == TARGET_ERROR) {
			x->done = 1;
			if (t[k].code == EX_TEMPFAIL || t[k].code == EX_CONFIG)
				outcome_set(&x->o, QS_DEFERRED, "4.3.0 %s", t[k].reason);
			else
				outcome_set(&x->o, QS_FAILED, "5.1.1 %s", t[k].reason);
		} else {
			x->done = 1;
			if (delivered_before(s, *w, *nw - 1, x->target))
				outcome_set(&x->o, QS_DELIVERED, "2.0.0 delivered once for an earlier recipient");
			else
				local_deliver(c, f, addr, &t[k], &x->o);
		}
	}
	resolve_free(t, nt);
}

/* A domain's share of the work: w[from, to). */
struct group {
	size_t from, to;
	pid_t pid;
	int fd;               /* the child's outcomes, read by the parent */
};

static void group_deliver(struct send_config *c, const struct queue_file *f, struct work *w,
                          const struct group *g)
{
	struct remote_rcpt *rr = calloc(g->to - g->from, sizeof *rr);

	if (rr == NULL)
		cli_die(EX_OSERR, "out of memory");
	for (size_t j = g->from; j < g->to; j++) {
		rr[j - g->from].address = w[j].target;
		rr[j - g->from].o = &w[j].o;
	}
	remote_deliver(c, f, addr_domain(w[g->from].target), rr, g->to - g->from);
	free(rr);
}

/* The remote work items (sorted by domain), one transaction per domain;
 * with --jobs above 1, up to that many domains at once, each in a child
 * that sends its outcomes back through a pipe. */
static void deliver_remote_groups(struct send_config *c, const struct queue_file *f,
                                  struct work *w, size_t nw)
{
	struct group *g = NULL;
	size_t ng = 0, i, k;

	for (i = 0; i < nw; i = k) {
		if (!w[i].remote || w[i].done) {
			k = i + 1;
			continue;
		}
		for (k = i; k < nw && w[k].remote && !w[k].done &&
		            strcasecmp(addr_domain(w[k].target), addr_domain(w[i].target)) == 0; k++)
			w[k].done = 1;
		if ((g = realloc(g, (ng + 1) * sizeof *g)) == NULL)
			cli_die(EX_OSERR, "out of memory");
		g[ng++] = (struct group){ .from = i, .to = k, .pid = -1, .fd = -1 };
	}
	for (size_t start = 0; start < ng; start += c->jobs) {
		size_t end = start + c->jobs < ng ? start + c->jobs : ng;

		for (size_t j = start; j < end; j++) {
			int p[2];

			if (end - start == 1 || pipe2(p, O_CLOEXEC) < 0) {
				group_deliver(c, f, w, &g[j]);   /* one at a time */
				continue;
			}
			g[j].pid = fork();
			if (g[j].pid == 0) {
				pid_t parent = getppid();

				close(p[0]);
				if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
					_exit(0);
				group_deliver(c, f, w, &g[j]);
				for (size_t m = g[j].from; m < g[j].to; m++)
					if (io_write_all(p[1], &w[m].o, sizeof w[m].o) < 0)
						_exit(1);
				_exit(0);
			}
			close(p[1]);
			if (g[j].pid < 0) {
				close(p[0]);
				group_deliver(c, f, w, &g[j]);
			} else {
				g[j].fd = p[0];
			}
		}
		for (size_t j = start; j < end; j++) {
			if (g[j].pid <= 0)
				continue;
			for (size_t m = g[j].from; m < g[j].to; m++) {
				struct outcome o;
				size_t got = 0;

				while (got < sizeof o) {
					ssize_t r = read(g[j].fd, (char *)&o + got, sizeof o - got);

					if (r > 0)
						got += (size_t)r;
					else if (r < 0 && errno == EINTR)
						continue;
					else
						break;
				}
				if (got == sizeof o) {
					w[m].o = o;
				} else {
					w[m].o.st = QS_DEFERRED;
					snprintf(w[m].o.text, sizeof w[m].o.text,
					         "4.3.0 the delivery process for %.200s died",
					         addr_domain(w[m].target));
				}
			}
			close(g[j].fd);
			while (waitpid(g[j].pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
	}
	free(g);
}

/* The next attempt after a deferral that is the tries-th in a row. */
static long long backoff(const struct send_config *c, unsigned tries, long long now)
{
	unsigned long d = c->retry_min;

	while (tries-- > 0 && d < c->retry_max)
		d *= 2;
	return now + (long long)(d < c->retry_max ? d : c->retry_max);
}

/* Queue a DSN of one kind about the recipients that need it; notes them. */
static void notify(struct send_config *c, const struct queue_file *f, struct queue_state *s,
                   const char *action, const char *kind, enum queue_status st)
{
	size_t *idx = calloc(f->env.nrcpt, sizeof *idx), n = 0;
	char id[QUEUE_ID_MAX];
	struct err e;

	if (idx == NULL)
		cli_die(EX_OSERR, "out of memory");
	for (size_t i = 0; i < f->env.nrcpt; i++) {
		const struct queue_event *ev = queue_state_get(s, i, SUMMARY);

		if (ev != NULL && ev->st == st && wants(f->rcpt[i].notify, kind) &&
		    (st == QS_DEFERRED || !s->notified[i]))
			idx[n++] = i;
	}
	if (n > 0) {
		if (dsn_queue(c, f, s, idx, n, action, id, &e) < 0) {
			fprintf(stderr, "mail-send: id=%s dsn=%s error=\"%s\"\n", f->id, action, e.msg);
			queue_state_notice_failed(s, (long long)time(NULL) + (long long)c->retry_min, e.msg);
		} else {
			fprintf(stderr, "mail-send: id=%s dsn=%s notice=%s to=<%s>\n", f->id, action,
			        id, f->env.sender);
			if (st == QS_DEFERRED)
				queue_state_notified(s, (size_t)-1, id);
			else
				for (size_t k = 0; k < n; k++)
					queue_state_notified(s, idx[k], id);
		}
	}
	free(idx);
}

/* Work on one locked, loaded message. Returns when it is next due: 0 when
 * it is finished (removed), else a time. */
static long long work_message(struct send_config *c, struct queue_file *f, struct queue_state *s)
{
	long long now = (long long)time(NULL), next = 0;
	int expired = now >= f->arrival + (long long)c->lifetime;
	struct work *w = NULL;
	size_t nw = 0, i, k;
	struct err e;

	for (i = 0; i < f->env.nrcpt; i++) {
		long long due = rcpt_due(c, s, i);

		if (due == 0 || (due > 0 && due <= now))
			expand(c, f, s, i, &w, &nw);
	}
	/* remote targets, one transaction per domain */
	if (nw > 1)
		qsort(w, nw, sizeof *w, cmp_work_domain);
	deliver_remote_groups(c, f, w, nw);
	/* record: each alias target, then each recipient's summary */
	for (i = 0; i < nw; i++) {
		if (w[i].known)
			continue;
		if (!w[i].summary_only)
			queue_state_record(s, w[i].o.st, w[i].rcpt, w[i].target, 0, w[i].o.text);
		log_outcome(f->id, f->rcpt[w[i].rcpt].address, w[i].target, &w[i].o);
	}
	for (i = 0; i < f->env.nrcpt; i++) {
		const struct outcome *sum = NULL;
		const struct queue_event *prev;

		/* deferred when a target is, else failed when one is */
		for (k = 0; k < nw; k++) {
			if (w[k].rcpt != i)
				continue;
			if (sum == NULL ||
			    (w[k].o.st == QS_DEFERRED && sum->st != QS_DEFERRED) ||
			    (w[k].o.st == QS_FAILED && sum->st == QS_DELIVERED))
				sum = &w[k].o;
		}
		if (sum == NULL)
			continue;   /* not due, or expanded to nothing */
		prev = queue_state_get(s, i, SUMMARY);
		if (sum->st == QS_DEFERRED && expired) {
			char text[700];

			snprintf(text, sizeof text, "4.4.7 delivery time expired: %s", sum->text);
			queue_state_record(s, QS_FAILED, i, SUMMARY, 0, text);
		} else {
			queue_state_record(s, sum->st, i, SUMMARY,
			                   sum->st == QS_DEFERRED
			                       ? backoff(c, prev && prev->st == QS_DEFERRED ? prev->tries : 0, now)
			                       : 0,
			                   sum->text);
		}
	}
	for (i = 0; i < nw; i++)
		free(w[i].target);
	free(w);
	if (queue_state_sync(s, &e) < 0) {
		fprintf(stderr, "mail-send: id=%s error=\"%s\"\n", f->id, e.msg);
		return now + (long long)c->retry_min;
	}

	/* notices, never to the null sender */
	if (f->env.sender[0] != '\0') {
		notify(c, f, s, "failed", "FAILURE", QS_FAILED);
		notify(c, f, s, "delivered", "SUCCESS", QS_DELIVERED);
		if (!s->warned && c->delay_warning > 0 &&
		    now >= f->arrival + (long long)c->delay_warning)
			notify(c, f, s, "delayed", "DELAY", QS_DEFERRED);
		if (queue_state_sync(s, &e) < 0) {
			fprintf(stderr, "mail-send: id=%s error=\"%s\"\n", f->id, e.msg);
			return now + (long long)c->retry_min;
		}
	}
	/* what is left: a deferral's retry, or a notice that could not be
	 * queued */
	for (i = 0; i < f->env.nrcpt; i++) {
		const struct queue_event *ev = queue_state_get(s, i, SUMMARY);
		long long due;

		if (rcpt_done(f, s, i))
			continue;
		due = ev == NULL ? now : ev->st == QS_DEFERRED ? ev->next : s->notice_next;
		if (next == 0 || due < next)
			next = due;
	}
	if (next == 0) {
		if (queue_remove(c->queue_dir, "msg", f->id, &e) < 0) {
			fprintf(stderr, "mail-send: id=%s error=\"%s\"\n", f->id, e.msg);
			return now + (long long)c->retry_min;
		}
		if (c->verbose)
			fprintf(stderr, "mail-send: id=%s removed\n", f->id);
	}
	return next;
}

/* Read a message and its state without the lock: is it due, and when is
 * it next due? Returns 1 due now, 0 not (with *next), -1 unreadable. */
static int peek_due(struct send_config *c, const char *id, long long now, long long *next)
{
	char path[4200];
	struct queue_file f;
	struct queue_state s = { .fd = -1 };
	struct err e;
	int due = 0;

	*next = 0;
	snprintf(path, sizeof path, "%s/msg/%s", c->queue_dir, id);
	if (queue_load(&f, path, &e) < 0)
		return -1;
	snprintf(s.path, sizeof s.path, "%s/state/%s", c->queue_dir, id);
	s.fd = open(s.path, O_RDONLY | O_CLOEXEC);
	if (s.fd >= 0 && queue_state_read(&s, f.env.nrcpt, &e) == 0) {
		int finished = 1;

		for (size_t i = 0; i < f.env.nrcpt && !due; i++) {
			long long d = rcpt_due(c, &s, i);

			if (d < 0 && !rcpt_done(&f, &s, i))
				d = s.notice_next;   /* its notice is still to be queued */
			if (d >= 0)
				finished = 0;
			if (d == 0 || (d > 0 && d <= now))
				due = 1;
			else if (d > 0 && (*next == 0 || d < *next))
				*next = d;
		}
		/* every recipient final and notified, yet the file is here: a
		 * runner stopped before it removed it; run_message does */
		if (finished)
			due = 1;
	} else {
		due = 1;   /* no state yet: new */
	}
	queue_state_close(&s);
	queue_file_free(&f);
	return due;
}

/* Lock, load and work on message id. Returns its next due time (0: none
 * or busy). */
static long long run_message(struct send_config *c, const char *id)
{
	char path[4200];
	struct queue_state s;
	struct queue_file f;
	struct err e;
	long long next = 0;
	int locked = queue_state_lock(&s, c->queue_dir, id, &e);

	if (locked <= 0) {
		if (locked < 0)
			fprintf(stderr, "mail-send: id=%s error=\"%s\"\n", id, e.msg);
		return 0;
	}
	snprintf(path, sizeof path, "%s/msg/%s", c->queue_dir, id);
	if (queue_load(&f, path, &e) < 0) {
		struct stat st;

		if (e.code == EX_NOINPUT) {
			/* gone (delivered by another runner, deleted, held) */
			snprintf(path, sizeof path, "%s/hold/%s", c->queue_dir, id);
			if (stat(path, &st) < 0 && errno == ENOENT)
				unlink(s.path);
		} else if (e.code == EX_IOERR) {
			fprintf(stderr, "mail-send: id=%s removed: %s\n", id, e.msg);
			(void)queue_remove(c->queue_dir, "msg", id, &e);
		} else if (e.code == EX_DATAERR) {
			char to[4200];

			snprintf(to, sizeof to, "%s/hold/%s", c->queue_dir, id);
			fprintf(stderr, "mail-send: id=%s held: %s\n", id, e.msg);
			if (rename(path, to) < 0)
				fprintf(stderr, "mail-send: id=%s cannot hold: %s\n", id, strerror(errno));
		} else {
			fprintf(stderr, "mail-send: id=%s error=\"%s\"\n", id, e.msg);
		}
		queue_state_close(&s);
		return 0;
	}
	if (queue_state_read(&s, f.env.nrcpt, &e) < 0)
		fprintf(stderr, "mail-send: id=%s error=\"%s\"\n", id, e.msg);
	else
		next = work_message(c, &f, &s);
	queue_file_free(&f);
	queue_state_close(&s);
	return next;
}

/* Is the file at path old, and its writer (the pid in its name) gone? */
static int is_debris(const char *path, const char *name, time_t now)
{
	const char *p = strchr(name, 'P');
	long pid = p ? strtol(p + 1, NULL, 10) : 0;
	struct stat st;

	return lstat(path, &st) == 0 && now - st.st_mtime > DEBRIS_AGE &&
	       (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH));
}

/* Remove what crashes leave: tmp/ files and incoming/.ID files whose
 * writer is gone, and state files whose message is gone (a crash between
 * the two steps of queue_remove). */
static void clean_debris(struct send_config *c)
{
	char **ids, path[4200], other[4200];
	struct err e;
	time_t now = time(NULL);
	long n = queue_list(c->queue_dir, "tmp", &ids, &e);
	DIR *d;
	struct dirent *de;

	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/tmp/%s", c->queue_dir, ids[i]);
		if (is_debris(path, ids[i], now))
			unlink(path);
	}
	queue_list_free(ids, n);
	snprintf(path, sizeof path, "%s/incoming", c->queue_dir);
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] != '.' || de->d_name[1] == '\0' || de->d_name[1] == '.')
				continue;
			snprintf(path, sizeof path, "%s/incoming/%s", c->queue_dir, de->d_name);
			if (is_debris(path, de->d_name, now))
				unlink(path);
		}
		closedir(d);
	}
	n = queue_list(c->queue_dir, "state", &ids, &e);
	for (long i = 0; i < n; i++) {
		struct stat st;
		struct queue_state s;

		snprintf(path, sizeof path, "%s/msg/%s", c->queue_dir, ids[i]);
		snprintf(other, sizeof other, "%s/hold/%s", c->queue_dir, ids[i]);
		if (stat(path, &st) == 0 || stat(other, &st) == 0)
			continue;
		/* under its lock, and looked at again: a message may be on its
		 * way back from hold/ */
		if (queue_state_lock(&s, c->queue_dir, ids[i], &e) == 1) {
			if (stat(path, &st) < 0 && stat(other, &st) < 0)
				unlink(s.path);
			queue_state_close(&s);
		}
	}
	queue_list_free(ids, n);
}

/* Are the addresses of a user's envelope what mail-send's injection
 * writes (addr_valid), so that none carries a control character into an
 * SMTP command? */
static int envelope_sane(const struct queue_file *f)
{
	if (f->env.sender[0] != '\0' && !addr_valid(f->env.sender))
		return 0;
	for (size_t i = 0; i < f->env.nrcpt; i++)
		if (!addr_valid(f->rcpt[i].address))
			return 0;
	return 1;
}

/* Move what users dropped into incoming/ into the queue proper, with a
 * Received: field naming the file's owner, which the user cannot forge. */
static void pickup(struct send_config *c)
{
	char **ids, path[4200], date[64], buf[65536];
	struct err e;
	long n = queue_list(c->queue_dir, "incoming", &ids, &e);

	for (long i = 0; i < n; i++) {
		struct queue_file f;
		struct queue_msg m;
		uint64_t off;
		time_t now = time(NULL);
		struct tm tm;
		int k;

		snprintf(path, sizeof path, "%s/incoming/%s", c->queue_dir, ids[i]);
		if (queue_load(&f, path, &e) < 0) {
			if (e.code == EX_TEMPFAIL) {
				fprintf(stderr, "mail-send: pickup error=\"%s\"\n", e.msg);
				continue;
			}
			if (e.code != EX_NOINPUT) {
				fprintf(stderr, "mail-send: pickup refused=\"%s\"\n", e.msg);
				unlink(path);
			}
			continue;
		}
		f.env.client = NULL;   /* nothing the user wrote says where it came from */
		if (!envelope_sane(&f)) {
			fprintf(stderr, "mail-send: pickup refused=\"%s: an address mail-send would "
			        "not have written\"\n", path);
			unlink(path);
			queue_file_free(&f);
			continue;
		}
		if (queue_open(&m, c->queue_dir, &f.env, &e) < 0) {
			fprintf(stderr, "mail-send: pickup error=\"%s\"\n", e.msg);
			queue_file_free(&f);
			break;
		}
		localtime_r(&now, &tm);
		strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
		k = snprintf(buf, sizeof buf, "Received: by %s (mail-toolkit pickup, from userid %lu)\n"
		             "\tid %s; %s\n", c->hostname, (unsigned long)f.uid, m.id, date);
		queue_write(&m, buf, (size_t)k);
		for (off = f.body_at; off < f.body_at + f.size;) {
			uint64_t left = f.body_at + f.size - off;
			ssize_t r = pread(f.fd, buf, left < sizeof buf ? (size_t)left : sizeof buf, (off_t)off);

			if (r <= 0)
				break;
			queue_write(&m, buf, (size_t)r);
			off += (uint64_t)r;
		}
		if (off != f.body_at + f.size) {
			queue_abort(&m);
			fprintf(stderr, "mail-send: pickup error=\"read %s\"\n", path);
		} else if (queue_commit(&m, &e) < 0) {
			fprintf(stderr, "mail-send: pickup error=\"%s\"\n", e.msg);
		} else {
			unlink(path);
			fprintf(stderr, "mail-send: id=%s picked up from uid=%lu sender=<%s>\n", m.id,
			        (unsigned long)f.uid, f.env.sender);
		}
		queue_file_free(&f);
	}
	queue_list_free(ids, n);
}

/* When the earliest message in the queue is due next (0: none waits). */
static long long earliest_due(struct send_config *c)
{
	char **ids;
	struct err e;
	long n = queue_list(c->queue_dir, "msg", &ids, &e);
	long long earliest = 0, now = (long long)time(NULL);

	for (long i = 0; i < n; i++) {
		long long next;

		if (peek_due(c, ids[i], now, &next) != 0)
			next = now;
		if (next > 0 && (earliest == 0 || next < earliest))
			earliest = next;
	}
	queue_list_free(ids, n);
	return n < 0 ? now + 60 : earliest;
}

/* One pass: what incoming/ holds, then every due message in msg/, up to
 * jobs at once. Returns how many were due. */
static long pass(struct send_config *c)
{
	char **ids;
	struct err e;
	long n, worked = 0;
	long long now = (long long)time(NULL);
	unsigned running = 0;
	pid_t parent = getpid();

	pickup(c);
	n = queue_list(c->queue_dir, "msg", &ids, &e);
	if (n < 0) {
		fprintf(stderr, "mail-send: %s\n", e.msg);
		return 0;
	}
	for (long i = 0; i < n && !stopping; i++) {
		long long next;
		pid_t pid;

		if (peek_due(c, ids[i], now, &next) == 0)
			continue;
		worked++;
		if (c->jobs <= 1) {
			(void)run_message(c, ids[i]);
			continue;
		}
		while (running >= c->jobs) {
			if (wait(NULL) > 0)
				running--;
			else if (errno != EINTR)
				running = 0;
		}
		pid = fork();
		if (pid == 0) {
			/* a worker dies with its runner, as deliveries do (lib/run.c),
			 * but a stop (SIGTERM to the process group, as systemd and
			 * scripts/serve send it) lets it finish its message: killed
			 * between a delivery and its record, it would be delivered
			 * again. The runner waits for it. */
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
				_exit(0);
			signal(SIGTERM, SIG_IGN);
			signal(SIGINT, SIG_IGN);
			(void)run_message(c, ids[i]);
			_exit(0);
		}
		if (pid > 0)
			running++;
		else
			(void)run_message(c, ids[i]);
	}
	while (running > 0)
		if (wait(NULL) > 0 || errno != EINTR)
			running--;
	queue_list_free(ids, n);
	return worked;
}

int runner_run(struct send_config *c, int daemon)
{
	struct err e;
	int fifo = -1;

	if (queue_init(c->queue_dir, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	remote_global_init();
	signal(SIGPIPE, SIG_IGN);
	{
		/* a stop ends the runner after the messages being worked on */
		struct sigaction sa = { .sa_handler = on_signal };

		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
	}
	clean_debris(c);
	if (!daemon) {
		/* the notices a pass queues are delivered by the next one */
		for (int k = 0; k < 3 && !stopping && pass(c) > 0; k++)
			c->flush = 0;
		return 0;
	}
	{
		char path[4200];

		snprintf(path, sizeof path, "%s/trigger", c->queue_dir);
		/* read-write, so that it never reads end-of-file between writers */
		fifo = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fifo < 0)
			cli_die(EX_TEMPFAIL, "open %s: %s", path, strerror(errno));
	}
	fprintf(stderr, "mail-send: runner started, queue %s\n", c->queue_dir);
	for (time_t last_clean = time(NULL); !stopping;) {
		long long next, now, wait_s;
		struct pollfd p = { .fd = fifo, .events = POLLIN };
		char drain[512];

		(void)pass(c);
		c->flush = 0;
		next = earliest_due(c);
		now = (long long)time(NULL);
		wait_s = next == 0 ? 60 : next - now;
		if (wait_s > 60)
			wait_s = 60;
		if (wait_s < 0)
			wait_s = 0;
		if (!stopping && poll(&p, 1, (int)wait_s * 1000) > 0)
			while (read(fifo, drain, sizeof drain) > 0)
				;
		if (time(NULL) - last_clean > 3600) {
			clean_debris(c);
			last_clean = time(NULL);
		}
	}
	fprintf(stderr, "mail-send: runner stopped\n");
	close(fifo);
	return 0;
}

/* ---- listing ---- */

static void list_one(struct send_config *c, const char *sub, const char *id, long long now)
{
	char path[4200];
	struct queue_file f;
	struct queue_state s = { .fd = -1 };
	struct err e;
	long long age;

	snprintf(path, sizeof path, "%s/%s/%s", c->queue_dir, sub, id);
	if (queue_load(&f, path, &e) < 0) {
		printf("%s  (unreadable: %s)\n", id, e.msg);
		return;
	}
	age = now > f.arrival ? now - f.arrival : 0;
	printf("%s%s  %lld%s  %llu bytes  from <%s>\n", id,
	       strcmp(sub, "hold") == 0 ? " (held)" : "",
	       age < 3600 ? age / 60 : age < 172800 ? age / 3600 : age / 86400,
	       age < 3600 ? "m" : age < 172800 ? "h" : "d", (unsigned long long)f.size,
	       f.env.sender);
	snprintf(s.path, sizeof s.path, "%s/state/%s", c->queue_dir, id);
	s.fd = open(s.path, O_RDONLY | O_CLOEXEC);
	if (s.fd < 0 || queue_state_read(&s, f.env.nrcpt, &e) < 0)
		s.n = 0;
	for (size_t i = 0; i < f.env.nrcpt; i++) {
		const struct queue_event *ev = s.notified ? queue_state_get(&s, i, SUMMARY) : NULL;

		if (ev == NULL)
			printf("    <%s>  pending\n", f.rcpt[i].address);
		else if (ev->st == QS_DEFERRED)
			printf("    <%s>  deferred, next try in %llds: %s\n", f.rcpt[i].address,
			       ev->next > now ? ev->next - now : 0, ev->text);
		else
			printf("    <%s>  %s: %s\n", f.rcpt[i].address,
			       ev->st == QS_DELIVERED ? "delivered" : "failed", ev->text);
	}
	queue_state_close(&s);
	queue_file_free(&f);
}

int runner_list(struct send_config *c)
{
	static const char *const subs[] = { "msg", "hold" };
	long long now = (long long)time(NULL);
	long total = 0;

	for (size_t k = 0; k < 2; k++) {
		char **ids;
		struct err e;
		long n = queue_list(c->queue_dir, subs[k], &ids, &e);

		if (n < 0)
			cli_die(e.code, "%s", e.msg);
		for (long i = 0; i < n; i++)
			list_one(c, subs[k], ids[i], now);
		total += n;
		queue_list_free(ids, n);
	}
	printf(total == 0 ? "Mail queue is empty\n" : "-- %ld message%s\n", total,
	       total == 1 ? "" : "s");
	return 0;
}
