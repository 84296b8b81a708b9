#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "auth.h"
#include "err.h"
#include "queue.h"
#include "run.h"
#include "sasl.h"
#include "smtp.h"
#include "smtpd.h"
#include "users.h"

#define CMD_MAX 510       /* RFC 5321 4.5.3.1.4: 512 with CRLF */
#define AUTH_LINE_MAX 12288

struct rcpt {
	char address[SMTP_PATH_MAX];
	char notify[64];
	char orcpt[512];
};

struct session {
	struct net *n;
	struct smtpd_config *c;
	time_t deadline;
	int ehlo;                      /* 0 none, 1 HELO, 2 EHLO */
	char helo[256];
	char auth_user[ADDR_MAX + 1];
	unsigned auth_failures;        /* the delay doubles with each */
	unsigned errors;
	const char *cmdline;           /* the command being served, for the log */
	/* the transaction */
	int mail;
	char sender[SMTP_PATH_MAX];
	char body[16];
	int smtputf8;
	char ret[8];
	char envid[128];
	struct rcpt *rcpt;
	size_t nrcpt;
	/* BDAT in progress */
	int bdat;
	struct queue_msg q;
	int bdat_bad;                  /* the reason the message will be refused */
	const char *bdat_why;
	uint64_t bdat_size;
	int bdat_cr;                   /* the last chunk ended in a CR */
};

/* ---- replies and logs ---- */

static void reply(struct session *s, const char *text)
{
	net_printf(s->n, "%s\r\n", text);
	/* RFC 2920: answer a pipelined batch in one write */
	if (net_pending(s->n) == 0)
		net_flush(s->n);
}

static void log_line(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void log_line(struct session *s, const char *fmt, ...)
{
	char msg[1024], safe[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "mail-recv: ip=%s helo=%s %s\n", s->c->remote_ip,
	        err_escape(safe, sizeof safe, s->helo[0] ? s->helo : "-", strlen(s->helo[0] ? s->helo : "-")),
	        msg);
}

/* Refuse the command being served, logging it (at most 200 bytes, never
 * an AUTH line's credentials); after too many, say so and end the
 * session. */
static int refuse(struct session *s, const char *text, const char *cmd)
{
	const char *what = s->cmdline && strncasecmp(s->cmdline, "AUTH", 4) != 0 ? s->cmdline : cmd;
	char safe[256];

	reply(s, text);
	log_line(s, "refused=\"%s\" cmd=\"%s\"", text,
	         err_escape(safe, sizeof safe, what, strnlen(what, 200)));
	if (++s->errors >= s->c->max_errors) {
		reply(s, "421 4.7.0 Too many errors, closing the connection");
		net_flush(s->n);
		return -1;
	}
	return 0;
}

static void reset(struct session *s)
{
	if (s->bdat)
		queue_abort(&s->q);
	s->bdat = 0;
	s->bdat_bad = 0;
	s->bdat_size = 0;
	s->bdat_cr = 0;
	s->mail = 0;
	s->sender[0] = '\0';
	s->body[0] = '\0';
	s->smtputf8 = 0;
	s->ret[0] = '\0';
	s->envid[0] = '\0';
	free(s->rcpt);
	s->rcpt = NULL;
	s->nrcpt = 0;
}

/* The connection timed out (idle, or the whole session): say so. */
static void timed_out(struct session *s, const char *where)
{
	int session = time(NULL) >= s->deadline;

	s->n->error = 0;   /* the line is still there for the goodbye */
	s->n->deadline = 0;
	reply(s, session ? "421 4.4.2 Session too long, closing the connection" :
	      "421 4.4.2 Timeout, closing the connection");
	net_flush(s->n);
	log_line(s, "error=%s%s", session ? "session-timeout" : "timeout", where);
}

/* ---- commands ---- */

static int cmd_ehlo(struct session *s, const char *arg, int extended)
{
	if (arg[0] == '\0' || strlen(arg) >= sizeof s->helo)
		return refuse(s, "501 5.5.4 Syntax: EHLO hostname", "EHLO");
	reset(s);
	snprintf(s->helo, sizeof s->helo, "%s", arg);
	for (char *p = s->helo; *p; p++)   /* it goes into a header: printable only */
		if ((unsigned char)*p < 0x21 || *p == 0x7f || *p == '(' || *p == ')')
			*p = '?';
	s->ehlo = extended ? 2 : 1;
	if (!extended) {
		char text[300];

		snprintf(text, sizeof text, "250 %s", s->c->hostname);
		reply(s, text);
		return 0;
	}
	net_printf(s->n, "250-%s\r\n", s->c->hostname);
	net_printf(s->n, "250-PIPELINING\r\n");
	net_printf(s->n, "250-SIZE %llu\r\n", (unsigned long long)s->c->max_size);
	net_printf(s->n, "250-8BITMIME\r\n");
	net_printf(s->n, "250-SMTPUTF8\r\n");
	net_printf(s->n, "250-ENHANCEDSTATUSCODES\r\n");
	net_printf(s->n, "250-CHUNKING\r\n");
	if (s->c->starttls && !s->c->tls_active)
		net_printf(s->n, "250-STARTTLS\r\n");
	if (s->c->users_file && !s->auth_user[0] && (s->c->tls_active || s->c->auth_plaintext))
		net_printf(s->n, "250-AUTH PLAIN LOGIN SCRAM-SHA-256\r\n");
	reply(s, "250 DSN");
	return 0;
}

static int cmd_mail(struct session *s, const char *arg)
{
	struct smtp_param p[SMTP_PARAMS_MAX];
	const char *params, *why;
	int np, i, utf8 = 0;

	if (s->ehlo == 0)
		return refuse(s, "503 5.5.1 Say EHLO first", "MAIL");
	if (s->mail)
		return refuse(s, "503 5.5.1 Nested MAIL command", "MAIL");
	if (s->c->submission && !s->auth_user[0])
		return refuse(s, "530 5.7.0 Authentication required", "MAIL");
	if (strncasecmp(arg, "FROM:", 5) != 0)
		return refuse(s, "501 5.5.4 Syntax: MAIL FROM:<address>", "MAIL");
	/* SMTPUTF8 comes after the path: look for it before parsing the path */
	{
		const char *q = strrchr(arg, '>');

		if (q != NULL && s->ehlo == 2) {
			for (q++; *q == ' '; q++)
				;
			np = smtp_parse_params(q, p, SMTP_PARAMS_MAX, &why);
			for (i = 0; i < np; i++)
				if (strcmp(p[i].keyword, "SMTPUTF8") == 0)
					utf8 = 1;
		}
	}
	if (smtp_parse_path(arg + 5, 1, utf8, s->sender, &params, &why) < 0)
		return refuse(s, why, "MAIL");
	np = smtp_parse_params(params, p, SMTP_PARAMS_MAX, &why);
	if (np < 0 || (np > 0 && s->ehlo != 2)) {
		reset(s);
		return refuse(s, np < 0 ? why : "555 5.5.4 Parameters need EHLO", "MAIL");
	}
	for (i = 0; i < np; i++) {
		const char *k = p[i].keyword, *v = p[i].value;

		if (strcmp(k, "SIZE") == 0 && p[i].has_value && strspn(v, "0123456789") == strlen(v)) {
			if (strlen(v) > 19 || strtoull(v, NULL, 10) > s->c->max_size) {
				reset(s);
				return refuse(s, "552 5.3.4 Message too big for this system", "MAIL");
			}
		} else if (strcmp(k, "BODY") == 0 && p[i].has_value &&
		           (strcasecmp(v, "7BIT") == 0 || strcasecmp(v, "8BITMIME") == 0)) {
			snprintf(s->body, sizeof s->body, "%s", v);
		} else if (strcmp(k, "SMTPUTF8") == 0 && !p[i].has_value) {
			s->smtputf8 = 1;
		} else if (strcmp(k, "RET") == 0 && p[i].has_value &&
		           (strcasecmp(v, "FULL") == 0 || strcasecmp(v, "HDRS") == 0)) {
			snprintf(s->ret, sizeof s->ret, "%s", v);
		} else if (strcmp(k, "ENVID") == 0 && p[i].has_value && strlen(v) <= 100 &&
		           smtp_xtext_decode(v, (char[128]){0}, 128) == 0) {
			snprintf(s->envid, sizeof s->envid, "%s", v);
		} else if (strcmp(k, "AUTH") == 0 && p[i].has_value) {
			/* RFC 4954 5: accepted and not passed on */
		} else {
			reset(s);
			return refuse(s, "555 5.5.4 Unsupported parameter", "MAIL");
		}
	}
	if (s->c->submission && s->sender[0] != '\0') {
		struct user u;
		struct err e;
		int rc = users_lookup(s->c->users_file, s->auth_user, &u, NULL, &e);

		if (rc < 0) {
			reset(s);
			reply(s, "451 4.3.0 Temporary lookup failure");
			log_line(s, "error=\"%s\"", e.msg);
			return 0;
		}
		if (rc == 0 || !user_has_address(&u, s->sender)) {
			if (rc == 1)
				user_free(&u);
			reset(s);
			return refuse(s, "553 5.7.1 Sender address not owned by the authenticated user", "MAIL");
		}
		user_free(&u);
	}
	s->mail = 1;
	reply(s, "250 2.1.0 Ok");
	return 0;
}

/* RFC 3461 4.1: NEVER, or a list of SUCCESS, FAILURE and DELAY. */
static int notify_valid(const char *v)
{
	char copy[64], *tok, *save;

	if (strcasecmp(v, "NEVER") == 0)
		return 1;
	if (snprintf(copy, sizeof copy, "%s", v) >= (int)sizeof copy)
		return 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strcasecmp(tok, "SUCCESS") != 0 && strcasecmp(tok, "FAILURE") != 0 &&
		    strcasecmp(tok, "DELAY") != 0)
			return 0;
	return v[0] != ',' && v[strlen(v) - 1] != ',' && strstr(v, ",,") == NULL;
}

/* RFC 3461 4.2: addr-type ";" xtext. */
static int orcpt_valid(const char *v)
{
	const char *semi = strchr(v, ';');
	char out[512];

	return semi != NULL && semi > v && smtp_xtext_decode(semi + 1, out, sizeof out) == 0;
}

static int cmd_rcpt(struct session *s, const char *arg)
{
	struct smtp_param p[SMTP_PARAMS_MAX];
	const char *params, *why, *domain;
	struct rcpt r;
	int np, i;

	if (!s->mail)
		return refuse(s, "503 5.5.1 Need MAIL before RCPT", "RCPT");
	if (strncasecmp(arg, "TO:", 3) != 0)
		return refuse(s, "501 5.5.4 Syntax: RCPT TO:<address>", "RCPT");
	memset(&r, 0, sizeof r);
	if (strncasecmp(arg + 3 + strspn(arg + 3, " "), "<postmaster>", 12) == 0) {
		/* RFC 5321 4.5.1: <Postmaster> without a domain must work */
		snprintf(r.address, sizeof r.address, "postmaster@%s", s->c->resolver->domain);
		params = arg + 3 + strspn(arg + 3, " ") + 12;
		while (*params == ' ')
			params++;
	} else if (smtp_parse_path(arg + 3, 0, s->smtputf8, r.address, &params, &why) < 0)
		return refuse(s, why, "RCPT");
	np = smtp_parse_params(params, p, SMTP_PARAMS_MAX, &why);
	if (np < 0 || (np > 0 && s->ehlo != 2))
		return refuse(s, np < 0 ? why : "555 5.5.4 Parameters need EHLO", "RCPT");
	for (i = 0; i < np; i++) {
		if (strcmp(p[i].keyword, "NOTIFY") == 0 && p[i].has_value &&
		    notify_valid(p[i].value) && strlen(p[i].value) < sizeof r.notify)
			snprintf(r.notify, sizeof r.notify, "%s", p[i].value);
		else if (strcmp(p[i].keyword, "ORCPT") == 0 && p[i].has_value && orcpt_valid(p[i].value))
			snprintf(r.orcpt, sizeof r.orcpt, "%s", p[i].value);
		else
			return refuse(s, "555 5.5.4 Unsupported parameter", "RCPT");
	}
	if (s->nrcpt >= s->c->max_rcpt || (s->c->deliver && s->nrcpt >= 1)) {
		reply(s, "452 4.5.3 Too many recipients");
		return 0;
	}
	domain = addr_domain(r.address);
	if (resolver_is_local(s->c->resolver, domain)) {
		struct target *t;
		struct err e;
		size_t nt;

		if (resolve(s->c->resolver, r.address, &t, &nt, &e) < 0) {
			/* EX_DATAERR: an address no account can have (a quoted local part) */
			if (e.code == EX_NOUSER || e.code == EX_DATAERR)
				return refuse(s, "550 5.1.1 No such user here", "RCPT");
			log_line(s, "to=<%s> error=\"%s\"", r.address, e.msg);
			reply(s, "451 4.3.0 Temporary lookup failure, try again later");
			return 0;
		}
		resolve_free(t, nt);
	} else if (!s->c->relay_client && !s->auth_user[0]) {
		return refuse(s, "554 5.7.1 Relay access denied", "RCPT");
	}
	{
		struct rcpt *nr = realloc(s->rcpt, (s->nrcpt + 1) * sizeof *nr);

		if (nr == NULL) {
			reply(s, "451 4.3.0 Out of memory");
			return 0;
		}
		s->rcpt = nr;
		s->rcpt[s->nrcpt++] = r;
	}
	reply(s, "250 2.1.5 Ok");
	return 0;
}

/* ---- the message ---- */

static void rfc5322_date(char *out, size_t outsz)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(out, outsz, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

static int open_message(struct session *s, struct queue_msg *q, struct err *e)
{
	struct queue_rcpt *r = calloc(s->nrcpt, sizeof *r);
	struct queue_env env = {
		.sender = s->sender, .body = s->body[0] ? s->body : NULL,
		.smtputf8 = s->smtputf8, .ret = s->ret[0] ? s->ret : NULL,
		.envid = s->envid[0] ? s->envid : NULL, .client = s->c->remote_ip,
		.rcpt = r, .nrcpt = s->nrcpt,
	};
	char date[64], line[2048], tls[160] = "", auth[ADDR_MAX + 40] = "",
	     for_[SMTP_PATH_MAX + 16] = "";
	const char *proto;
	size_t i;
	int rc, k;

	if (r == NULL)
		return err_sys(e, EX_TEMPFAIL, "out of memory");
	for (i = 0; i < s->nrcpt; i++) {
		r[i].address = s->rcpt[i].address;
		r[i].notify = s->rcpt[i].notify[0] ? s->rcpt[i].notify : NULL;
		r[i].orcpt = s->rcpt[i].orcpt[0] ? s->rcpt[i].orcpt : NULL;
	}
	rc = queue_open(q, s->c->queue_dir, &env, e);
	free(r);
	if (rc < 0)
		return -1;
	/* RFC 3848 protocol names: ESMTP, plus S for TLS and A for AUTH */
	proto = s->ehlo != 2 ? "SMTP" : s->c->tls_active ? (s->auth_user[0] ? "ESMTPSA" : "ESMTPS") :
	        s->auth_user[0] ? "ESMTPA" : "ESMTP";
	if (s->c->tls_active)
		snprintf(tls, sizeof tls, "\n\t(using %s)", s->c->tls_info);
	if (s->auth_user[0])
		snprintf(auth, sizeof auth, "\n\t(Authenticated sender: %s)", s->auth_user);
	if (s->nrcpt == 1)   /* more would tell each recipient of the others */
		snprintf(for_, sizeof for_, "\n\tfor <%s>", s->rcpt[0].address);
	rfc5322_date(date, sizeof date);
	k = snprintf(line, sizeof line, "Received: from %s (%s [%s])%s%s\n\tby %s (mail-toolkit) "
	             "with %s id %s%s;\n\t%s\n", s->helo, s->c->remote_host ? s->c->remote_host : "unknown",
	             s->c->remote_ip, tls, auth, s->c->hostname, proto, q->id, for_, date);
	if (k < 0 || k >= (int)sizeof line) {
		queue_abort(q);
		return err_set(e, EX_TEMPFAIL, "Received: header too long");
	}
	queue_write(q, line, (size_t)k);
	return 0;
}

/* The DATA stream, byte by byte: line ends, dot-unstuffing, the end. */
struct dataread {
	struct session *s;
	struct queue_msg *q;
	char *line;
	size_t len;
	int cr;              /* the previous byte was a CR */
	int after_crlf;      /* the line began after a CRLF (or the 354) */
	const char *bad;     /* why the message will be refused, or NULL */
	uint64_t size;
};

static void data_flag(struct dataread *d, const char *why)
{
	if (d->bad == NULL)
		d->bad = why;
}

/* A complete line (without its end) in d->line. */
static void data_line(struct dataread *d)
{
	const char *p = d->line;
	size_t n = d->len;

	if (n > 0 && p[0] == '.') {   /* RFC 5321 4.5.2: remove one dot */
		p++;
		n--;
	}
	d->size += n + 2;
	if (d->size > d->s->c->max_size)
		data_flag(d, "552 5.3.4 Message too big for this system");
	if (d->bad == NULL) {
		queue_write(d->q, p, n);
		queue_write(d->q, "\n", 1);
	}
	d->len = 0;
}

/* Read DATA until CRLF.CRLF. Returns 0 at the end of data, -1 when the
 * connection failed first. */
static int read_data(struct dataread *d)
{
	const unsigned char *buf;
	ssize_t r, i;
	unsigned limit = d->s->c->line_limit;

	d->after_crlf = 1;
	for (;;) {
		r = net_peek(d->s->n, &buf);
		if (r <= 0)
			return -1;
		for (i = 0; i < r; i++) {
			unsigned char c = buf[i];

			if (d->cr && c != '\n') {
				/* a bare CR: data, never a line end */
				if (!d->s->c->normalize_newlines)
					data_flag(d, "554 5.6.0 Message contains a bare CR (RFC 5321 2.3.8)");
				d->cr = 0;
				if (d->len < limit + 1)
					d->line[d->len++] = '\r';
			}
			if (c == '\r') {
				d->cr = 1;
				continue;
			}
			if (c == '\n') {
				int crlf = d->cr;

				d->cr = 0;
				if (crlf && d->after_crlf && d->len == 1 && d->line[0] == '.') {
					/* CRLF "." CRLF: the only end of data; what follows
					 * is the next command, left in the buffer */
					net_consume(d->s->n, (size_t)i + 1);
					return 0;
				}
				if (!crlf && !d->s->c->normalize_newlines)
					data_flag(d, "554 5.6.0 Message contains a bare LF (RFC 5321 2.3.8)");
				if (d->len == 1 && d->line[0] == '.') {
					/* a "." line next to a bare LF: text, not an end */
					d->line[d->len++] = '.';
				}
				d->after_crlf = crlf;
				data_line(d);
				continue;
			}
			if (c == '\0')
				data_flag(d, "554 5.6.0 Message contains a NUL byte");
			/* the limit is on the line as sent, less a transparency dot */
			if (d->len >= limit + (d->len > 0 && d->line[0] == '.')) {
				data_flag(d, "554 5.6.0 Message has a line longer than the limit (RFC 5321 4.5.3.1.6)");
				continue;
			}
			d->line[d->len++] = (char)c;
		}
		net_consume(d->s->n, (size_t)r);
	}
}

/* ---- hand-off ---- */

/* Run the --deliver program for the recipient (one per transaction in
 * this mode) with the message, Received: included, on stdin: the bytes of
 * the file at path from body_at on, bounded by what is left of the
 * session. Writes the SMTP reply into out. */
static void deliver(struct session *s, const char *path, uint64_t body_at, char *out, size_t outsz)
{
	char env_sender[SMTP_PATH_MAX + 8], env_rcpt[SMTP_PATH_MAX + 16];
	char *env[] = { env_sender, env_rcpt, NULL };
	struct run_result r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || lseek(fd, (off_t)body_at, SEEK_SET) < 0) {
		snprintf(out, outsz, "451 4.3.0 Cannot start delivery");
		if (fd >= 0)
			close(fd);
		return;
	}
	snprintf(env_sender, sizeof env_sender, "SENDER=%s", s->sender);
	snprintf(env_rcpt, sizeof env_rcpt, "RECIPIENT=%s", s->rcpt[0].address);
	(void)run_program(s->c->deliver, env, fd, -1, NULL, s->deadline, &r);
	close(fd);
	if (!r.ok)
		log_line(s, "deliver=%s status=%d%s reason=\"%s\"", s->c->deliver[0],
		         r.status < 0 ? -1 : WIFEXITED(r.status) ? WEXITSTATUS(r.status) : WTERMSIG(r.status),
		         r.status >= 0 && !WIFEXITED(r.status) ? " (signal)" : "", r.reason);
	if (r.ok)
		snprintf(out, outsz, "250 2.0.0 Ok: delivered");
	else if (r.permanent)
		snprintf(out, outsz, "550 5.0.0 %s", r.reason[0] ? r.reason : "Delivery refused");
	else
		snprintf(out, outsz, "451 4.0.0 %s", r.reason[0] ? r.reason : "Delivery failed, try again later");
}

/* The message in q is complete: commit it (or deliver it) and reply. */
static void finish_message(struct session *s, struct queue_msg *q, const char *bad, uint64_t size)
{
	char text[600], rcpts[1024];
	size_t i, o = 0;
	struct err e;

	rcpts[0] = '\0';
	for (i = 0; i < s->nrcpt && o < sizeof rcpts - 1; i++)
		o += (size_t)snprintf(rcpts + o, sizeof rcpts - o, "%s<%s>", i ? "," : "", s->rcpt[i].address);
	if (bad != NULL) {
		queue_abort(q);
		reply(s, bad);
		log_line(s, "from=<%s> to=%s size=%llu result=\"%s\"", s->sender, rcpts,
		         (unsigned long long)size, bad);
		reset(s);
		return;
	}
	if (s->c->deliver) {
		/* no queue: the program's answer is the reply; the file in tmp/
		 * only carries the message to it */
		if (queue_flush(q, &e) < 0)
			snprintf(text, sizeof text, "451 4.3.0 Cannot write the message, try again later");
		else
			deliver(s, q->tmp, q->body_at, text, sizeof text);
		queue_abort(q);
	} else if (queue_commit(q, &e) < 0) {
		reply(s, "451 4.3.0 Queue write failed, try again later");
		log_line(s, "from=<%s> to=%s error=\"%s\"", s->sender, rcpts, e.msg);
		reset(s);
		return;
	} else {
		snprintf(text, sizeof text, "250 2.0.0 Ok: queued as %s", q->id);
		queue_trigger(s->c->queue_dir);
	}
	reply(s, text);
	log_line(s, "tls=%s user=%s from=<%s> to=%s size=%llu id=%s result=\"%.3s\"",
	         s->c->tls_active ? "yes" : "no", s->auth_user[0] ? s->auth_user : "-",
	         s->sender, rcpts, (unsigned long long)size, q->id, text);
	reset(s);
}

static int cmd_data(struct session *s)
{
	struct dataread d = { .s = s };
	struct queue_msg q;
	struct err e;
	char *line;

	if (!s->mail)
		return refuse(s, "503 5.5.1 Need MAIL command", "DATA");
	if (s->nrcpt == 0)
		return refuse(s, "554 5.5.1 No valid recipients", "DATA");
	if (s->bdat)
		return refuse(s, "503 5.5.1 DATA after BDAT", "DATA");
	if (open_message(s, &q, &e) < 0) {
		log_line(s, "error=\"%s\"", e.msg);
		reply(s, "451 4.3.0 Queue unavailable, try again later");
		return 0;
	}
	line = malloc(s->c->line_limit + 2);
	if (line == NULL) {
		queue_abort(&q);
		reply(s, "451 4.3.0 Out of memory");
		return 0;
	}
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	net_flush(s->n);
	d.q = &q;
	d.line = line;
	if (read_data(&d) < 0) {
		free(line);
		queue_abort(&q);
		if (s->n->error == ETIMEDOUT)
			timed_out(s, " in=DATA");
		else
			log_line(s, "from=<%s> error=\"connection lost in DATA\"", s->sender);
		return -1;
	}
	free(line);
	finish_message(s, &q, d.bad, d.size);
	return 0;
}

/* The client went away or timed out inside a BDAT chunk. */
static int bdat_lost(struct session *s)
{
	if (s->n->error == ETIMEDOUT)
		timed_out(s, " in=BDAT");
	else
		log_line(s, "from=<%s> error=\"connection lost in BDAT\"", s->sender);
	return -1;
}

/* BDAT size [LAST] (RFC 3030): exactly size bytes follow the command. */
static int cmd_bdat(struct session *s, const char *arg)
{
	unsigned long long size;
	char *end;
	int last = 0;
	unsigned char buf[8192];
	uint64_t left;
	struct err e;

	errno = 0;
	size = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || errno != 0)
		return refuse(s, "501 5.5.4 Syntax: BDAT size [LAST]", "BDAT");
	while (*end == ' ')
		end++;
	if (strcasecmp(end, "LAST") == 0)
		last = 1;
	else if (*end != '\0')
		return refuse(s, "501 5.5.4 Syntax: BDAT size [LAST]", "BDAT");
	if (!s->mail || s->nrcpt == 0 || s->ehlo != 2) {
		/* the chunk must still be read, or it would be taken as commands */
		for (left = size; left > 0;) {
			ssize_t r = net_read(s->n, buf, left < sizeof buf ? (size_t)left : sizeof buf);

			if (r <= 0)
				return bdat_lost(s);
			left -= (uint64_t)r;
		}
		return refuse(s, s->ehlo != 2 ? "503 5.5.1 BDAT needs EHLO (CHUNKING)" :
		              s->mail ? "554 5.5.1 No valid recipients" : "503 5.5.1 Need MAIL command", "BDAT");
	}
	if (!s->bdat) {
		if (open_message(s, &s->q, &e) < 0) {
			log_line(s, "error=\"%s\"", e.msg);
			memset(&s->q, 0, sizeof s->q);
			s->q.fd = -1;
			s->bdat_bad = 1;
			s->bdat_why = "451 4.3.0 Queue unavailable, try again later";
		}
		s->bdat = 1;
	}
	for (left = size; left > 0;) {
		ssize_t r = net_read(s->n, buf, left < sizeof buf ? (size_t)left : sizeof buf);

		if (r <= 0)
			return bdat_lost(s);
		left -= (uint64_t)r;
		s->bdat_size += (uint64_t)r;
		if (s->bdat_size > s->c->max_size && !s->bdat_bad) {
			s->bdat_bad = 1;
			s->bdat_why = "552 5.3.4 Message too big for this system";
		}
		/* CRLF becomes LF; a bare CR or LF is refused as in DATA */
		for (ssize_t i = 0; i < r && !s->bdat_bad; i++) {
			if (s->bdat_cr) {
				s->bdat_cr = 0;
				if (buf[i] == '\n') {
					queue_write(&s->q, "\n", 1);
					continue;
				}
				if (!s->c->normalize_newlines) {
					s->bdat_bad = 1;
					s->bdat_why = "554 5.6.0 Message contains a bare CR (RFC 5321 2.3.8)";
					break;
				}
				queue_write(&s->q, "\r", 1);
			}
			if (buf[i] == '\r') {
				s->bdat_cr = 1;
			} else if (buf[i] == '\n' && !s->c->normalize_newlines) {
				s->bdat_bad = 1;
				s->bdat_why = "554 5.6.0 Message contains a bare LF (RFC 5321 2.3.8)";
			} else if (buf[i] == '\0') {
				s->bdat_bad = 1;
				s->bdat_why = "554 5.6.0 Message contains a NUL byte";
			} else {
				queue_write(&s->q, &buf[i], 1);
			}
		}
	}
	if (!last) {
		char ok[64];

		snprintf(ok, sizeof ok, "250 2.0.0 %llu octets received", size);
		reply(s, ok);
		return 0;
	}
	if (s->bdat_cr && !s->bdat_bad) {
		if (s->c->normalize_newlines) {
			queue_write(&s->q, "\r", 1);   /* a last bare CR is data too */
		} else {
			s->bdat_bad = 1;
			s->bdat_why = "554 5.6.0 Message contains a bare CR (RFC 5321 2.3.8)";
		}
	}
	s->bdat = 0;   /* finish_message owns the queue file from here */
	finish_message(s, &s->q, s->bdat_bad ? s->bdat_why : NULL, s->bdat_size);
	return 0;
}

/* ---- AUTH ---- */

static int cmd_auth(struct session *s, const char *arg)
{
	char mech[32];
	const char *initial;
	enum sasl_result r;
	struct auth a;
	struct err e;

	if (!s->c->users_file || (!s->c->tls_active && !s->c->auth_plaintext))
		return refuse(s, "503 5.5.1 AUTH not available (use STARTTLS first)", "AUTH");
	if (s->ehlo != 2)
		return refuse(s, "503 5.5.1 Say EHLO first", "AUTH");
	if (s->auth_user[0])
		return refuse(s, "503 5.5.1 Already authenticated", "AUTH");
	if (s->mail)
		return refuse(s, "503 5.5.1 AUTH not allowed during a transaction", "AUTH");
	snprintf(mech, sizeof mech, "%.*s", (int)strcspn(arg, " "), arg);
	initial = arg + strlen(mech);
	while (*initial == ' ')
		initial++;
	auth_init(&a, s->c->users_file, s->c->realm, s->c->auth_delay_ms);
	a.failures = s->auth_failures;
	auth_start(&a, auth_mech_named(mech));
	if (a.mech == AUTH_NONE)
		return refuse(s, "504 5.5.4 Unrecognized authentication type", "AUTH");
	r = sasl_exchange(&a, s->n, "334 ", initial, &e);
	s->auth_failures = a.failures;
	if (r == SASL_OK)
		snprintf(s->auth_user, sizeof s->auth_user, "%s", a.user);
	auth_end(&a);
	switch (r) {
	case SASL_OK:
		log_line(s, "auth=%s user=%s", mech, s->auth_user);
		reply(s, "235 2.7.0 Authentication successful");
		return 0;
	case SASL_TEMPFAIL:
		log_line(s, "auth=%s failed=\"%s\"", mech, e.msg);
		reply(s, "454 4.7.0 Temporary authentication failure");
		return 0;
	case SASL_FAIL:
		log_line(s, "auth=%s failed=\"%s\"", mech, e.msg);
		return refuse(s, "535 5.7.8 Authentication credentials invalid", "AUTH");
	case SASL_BAD_INITIAL:
		return refuse(s, "501 5.5.2 Cannot decode the initial response", "AUTH");
	case SASL_BAD_RESPONSE:
		return refuse(s, "501 5.5.2 Cannot decode the response", "AUTH");
	case SASL_TOO_LONG:
		return refuse(s, "500 5.5.6 Authentication exchange line too long", "AUTH");
	case SASL_CANCELLED:
		return refuse(s, "501 5.0.0 Authentication cancelled", "AUTH");
	case SASL_GONE:
		break;
	}
	if (s->n->error == ETIMEDOUT)
		timed_out(s, " in=AUTH");
	return -1;
}

/* ---- the session ---- */

static int cmd_starttls(struct session *s, const char *arg)
{
	if (s->c->starttls == NULL || s->c->tls_active)
		return refuse(s, "502 5.5.1 STARTTLS not available", "STARTTLS");
	if (arg[0] != '\0')
		return refuse(s, "501 5.5.4 Syntax: STARTTLS", "STARTTLS");
	if (s->c->tls_prepare(s->c->tls_ctx) < 0)   /* RFC 3207 4: plaintext goes on */
		return refuse(s, "454 4.7.0 TLS not available due to a temporary reason", "STARTTLS");
	/* CVE-2011-0411: what came with STARTTLS in plaintext is thrown away */
	if (net_discard(s->n) > 0)
		log_line(s, "starttls=\"pipelined plaintext discarded\"");
	net_printf(s->n, "220 2.0.0 Ready to start TLS\r\n");
	if (net_flush(s->n) < 0)
		return -1;
	if (s->c->starttls(s->c->tls_ctx, s->n, s->c->tls_info, sizeof s->c->tls_info) < 0) {
		log_line(s, "starttls=failed");
		return -1;   /* the stream is in an unknown state: hang up */
	}
	s->c->tls_active = 1;
	/* RFC 3207 4.2: forget everything learnt before TLS */
	reset(s);
	s->ehlo = 0;
	s->helo[0] = '\0';
	s->auth_user[0] = '\0';
	return 0;
}

int smtpd_run(struct net *n, struct smtpd_config *c)
{
	struct session s;
	char line[AUTH_LINE_MAX + 2];
	int quit = 0;

	memset(&s, 0, sizeof s);
	s.n = n;
	s.c = c;
	s.deadline = time(NULL) + (time_t)c->session_timeout;
	n->deadline = s.deadline;
	net_printf(n, "220 %s ESMTP mail-toolkit\r\n", c->hostname);
	net_flush(n);
	while (!quit) {
		int bare_cr, nul, rc = 0;
		long len;
		char *arg;

		len = net_getline(n, line, AUTH_LINE_MAX, &bare_cr, &nul);
		if (len == -1) {
			if (n->error == ETIMEDOUT)
				timed_out(&s, "");
			break;
		}
		/* RFC 4954 4: an AUTH line may be 12288 octets, others 512 */
		s.cmdline = len >= 0 ? line : NULL;
		if (len == -2 || (len > CMD_MAX && strncasecmp(line, "AUTH ", 5) != 0)) {
			rc = refuse(&s, "500 5.5.2 Line too long", "(long)");
		} else if (bare_cr || nul) {
			rc = refuse(&s, "500 5.5.2 Command contains a bare CR or NUL", line);
		} else {
			size_t vlen = strcspn(line, " ");

			arg = line + vlen;
			while (*arg == ' ')
				arg++;
#define IS(v) (vlen == strlen(v) && strncasecmp(line, v, vlen) == 0)
			if (IS("EHLO"))
				rc = cmd_ehlo(&s, arg, 1);
			else if (IS("HELO"))
				rc = cmd_ehlo(&s, arg, 0);
			else if (IS("MAIL"))
				rc = cmd_mail(&s, arg);
			else if (IS("RCPT"))
				rc = cmd_rcpt(&s, arg);
			else if (IS("DATA"))
				rc = arg[0] ? refuse(&s, "501 5.5.4 Syntax: DATA", "DATA") : cmd_data(&s);
			else if (IS("BDAT"))
				rc = cmd_bdat(&s, arg);
			else if (IS("RSET")) {
				reset(&s);
				reply(&s, "250 2.0.0 Ok");
			} else if (IS("NOOP"))
				reply(&s, "250 2.0.0 Ok");
			else if (IS("QUIT")) {
				reply(&s, "221 2.0.0 Bye");
				quit = 1;
			} else if (IS("VRFY"))
				reply(&s, "252 2.5.0 Cannot VRFY user, but will accept the message");
			else if (IS("HELP"))
				reply(&s, "214 2.0.0 See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY STARTTLS AUTH");
			else if (IS("STARTTLS"))
				rc = cmd_starttls(&s, arg);
			else if (IS("AUTH"))
				rc = cmd_auth(&s, arg);
			else
				rc = refuse(&s, "500 5.5.2 Command not recognized", line);
#undef IS
		}
		if (rc < 0)
			break;
	}
	net_flush(n);
	reset(&s);
	return quit ? 0 : 1;
}
