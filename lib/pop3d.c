#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>

#include "auth.h"
#include "err.h"
#include "maildrop.h"
#include "pop3d.h"
#include "sasl.h"
#include "users.h"

#define LINE_MAX_POP3 255          /* a command line (RFC 2449 4) */

struct session {
	struct net *n;
	struct pop3d_config *c;
	int state;                     /* AUTHORIZATION, TRANSACTION */
	char user[ADDR_MAX + 1];       /* from USER, before PASS */
	char login[ADDR_MAX + 1];      /* the account, once logged in */
	unsigned errors;
	unsigned auth_failures;
	struct maildrop drop;
	unsigned retrieved, deleted;
};

enum { AUTHORIZATION, TRANSACTION };

static void log_line(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void log_line(struct session *s, const char *fmt, ...)
{
	char buf[600], safe[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* logins and SASL reasons come from the client: escaped, one line */
	err_escape(safe, sizeof safe, buf, strlen(buf));
	fprintf(stderr, "mail-pop3d: ip=%s%s%s %s\n", s->c->remote_ip ? s->c->remote_ip : "unknown",
	        s->login[0] ? " user=" : "", s->login, safe);
}

/* Queue a reply; sent when the client has sent nothing more (pipelining:
 * RFC 2449 6.6). */
static void reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply(struct session *s, const char *fmt, ...)
{
	char buf[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	net_printf(s->n, "%s\r\n", buf);
}

/* A refused command: -ERR, counted. Returns -1 when there were too many. */
static int refuse(struct session *s, const char *text)
{
	reply(s, "-ERR %s", text);
	if (++s->errors >= s->c->max_errors) {
		reply(s, "-ERR Too many errors, closing the connection");
		log_line(s, "closed=\"too many errors\"");
		return -1;
	}
	return 0;
}

static int plaintext_ok(const struct session *s)
{
	return s->c->tls_active || s->c->allow_plaintext;
}

static void capa(struct session *s)
{
	reply(s, "+OK Capability list follows");
	reply(s, "TOP");
	reply(s, "UIDL");
	reply(s, "RESP-CODES");
	reply(s, "AUTH-RESP-CODE");
	reply(s, "PIPELINING");
	if (s->state == AUTHORIZATION) {
		if (plaintext_ok(s)) {
			reply(s, "USER");
			reply(s, "SASL PLAIN SCRAM-SHA-256");
		}
		if (s->c->starttls != NULL && !s->c->tls_active)
			reply(s, "STLS");
	}
	reply(s, "IMPLEMENTATION mail-toolkit");
	reply(s, ".");
}

/* Logged in as account: take the mailbox. Returns 0, or -1 to hang up. */
static int enter_transaction(struct session *s, const char *account)
{
	struct user u;
	char mailbox[4096];
	int maildir, found;
	struct err e;

	found = users_lookup(s->c->users_file, account, &u, NULL, &e);
	if (found <= 0) {
		log_line(s, "login=%s error=\"%s\"", account, found == 0 ? "no such account" : e.msg);
		reply(s, "-ERR [SYS/TEMP] Cannot find the mailbox, try again later");
		return 0;
	}
	if (users_mailbox(&u, s->c->mail_root, mailbox, sizeof mailbox, &maildir, &e) < 0) {
		user_free(&u);
		log_line(s, "login=%s error=\"%s\"", account, e.msg);
		reply(s, "-ERR [SYS/PERM] The mailbox is misconfigured");
		return 0;
	}
	user_free(&u);
	snprintf(s->login, sizeof s->login, "%s", account);
	if (s->c->become != NULL && s->c->become(s->c->become_ctx, mailbox, &e) < 0) {
		log_line(s, "error=\"%s\"", e.msg);
		reply(s, "-ERR [SYS/PERM] Cannot open the mailbox");
		return -1;   /* half-dropped rights: end the process */
	}
	if (drop_open(&s->drop, mailbox, s->c->lock_timeout, &e) < 0) {
		log_line(s, "error=\"%s\"", e.msg);
		if (strncmp(e.msg, "in use", 6) == 0)
			reply(s, "-ERR [IN-USE] The mailbox is in use by another session");
		else if (e.code == EX_NOPERM)
			reply(s, "-ERR [SYS/PERM] Cannot open the mailbox");
		else
			reply(s, "-ERR [SYS/TEMP] Cannot open the mailbox, try again later");
		/* the process has taken this mailbox's rights: it cannot log
		 * anybody else in, so the session ends (RFC 1939 allows it) */
		return -1;
	}
	s->state = TRANSACTION;
	log_line(s, "login tls=%s messages=%zu octets=%llu", s->c->tls_active ? "yes" : "no",
	         s->drop.n, (unsigned long long)s->drop.total);
	reply(s, "+OK Logged in, %zu messages (%llu octets)", s->drop.n,
	      (unsigned long long)s->drop.total);
	return 0;
}

static int cmd_pass(struct session *s, const char *arg)
{
	char account[ADDR_MAX + 1];
	struct auth a;
	struct err e;
	int ok;

	if (s->user[0] == '\0')
		return refuse(s, "Send USER first");
	ok = auth_password(s->c->users_file, s->c->realm, s->user, arg, account, &e);
	if (ok < 0) {
		log_line(s, "login=%s error=\"%s\"", s->user, e.msg);
		s->user[0] = '\0';
		reply(s, "-ERR [SYS/TEMP] Authentication is unavailable, try again later");
		return 0;
	}
	if (ok == 0) {
		auth_init(&a, s->c->users_file, s->c->realm, s->c->auth_delay_ms);
		a.failures = s->auth_failures;
		auth_delay(&a);
		s->auth_failures = a.failures;
		log_line(s, "login=%s failed=\"bad credentials\"", s->user);
		s->user[0] = '\0';
		return refuse(s, "[AUTH] Authentication failed");
	}
	s->user[0] = '\0';
	return enter_transaction(s, account);
}

static int cmd_auth(struct session *s, const char *arg)
{
	char mech[32], account[ADDR_MAX + 1];
	const char *initial;
	enum sasl_result r;
	struct auth a;
	struct err e;

	if (arg[0] == '\0') {
		/* the mechanism list, as clients of RFC 1734 ask for it */
		reply(s, "+OK");
		if (plaintext_ok(s)) {
			reply(s, "PLAIN");
			reply(s, "SCRAM-SHA-256");
		}
		reply(s, ".");
		return 0;
	}
	if (!plaintext_ok(s))
		return refuse(s, "[AUTH] Plaintext authentication disallowed without TLS: use STLS");
	snprintf(mech, sizeof mech, "%.*s", (int)strcspn(arg, " "), arg);
	initial = arg + strlen(mech);
	while (*initial == ' ')
		initial++;
	auth_init(&a, s->c->users_file, s->c->realm, s->c->auth_delay_ms);
	a.failures = s->auth_failures;
	auth_start(&a, auth_mech_named(mech));
	if (a.mech == AUTH_NONE || a.mech == AUTH_LOGIN)
		return refuse(s, "Unsupported authentication mechanism");
	r = sasl_exchange(&a, s->n, "+ ", initial, &e);
	s->auth_failures = a.failures;
	snprintf(account, sizeof account, "%s", a.user);
	auth_end(&a);
	switch (r) {
	case SASL_OK:
		return enter_transaction(s, account);
	case SASL_TEMPFAIL:
		log_line(s, "auth=%s failed=\"%s\"", mech, e.msg);
		reply(s, "-ERR [SYS/TEMP] Authentication is unavailable, try again later");
		return 0;
	case SASL_FAIL:
		log_line(s, "auth=%s failed=\"%s\"", mech, e.msg);
		return refuse(s, "[AUTH] Authentication failed");
	case SASL_BAD_INITIAL:
		return refuse(s, "Cannot decode the initial response");
	case SASL_BAD_RESPONSE:
		return refuse(s, "Cannot decode the response");
	case SASL_TOO_LONG:
		return refuse(s, "Authentication exchange line too long");
	case SASL_CANCELLED:
		return refuse(s, "Authentication cancelled");
	case SASL_GONE:
		break;
	}
	return -1;
}

static int cmd_stls(struct session *s)
{
	if (s->c->starttls == NULL || s->c->tls_active)
		return refuse(s, "STLS not available");
	if (s->c->tls_prepare(s->c->tls_ctx) < 0)
		return refuse(s, "[SYS/TEMP] TLS not available, try again later");
	/* RFC 2595 4: what came in plaintext after STLS is thrown away, so
	 * that it cannot pose as the client speaking over TLS */
	if (net_discard(s->n) > 0)
		log_line(s, "stls=\"pipelined plaintext discarded\"");
	net_printf(s->n, "+OK Begin TLS negotiation\r\n");
	if (net_flush(s->n) < 0)
		return -1;
	if (s->c->starttls(s->c->tls_ctx, s->n, s->c->tls_info, sizeof s->c->tls_info) < 0) {
		log_line(s, "stls=failed");
		return -1;
	}
	s->c->tls_active = 1;
	s->user[0] = '\0';
	return 0;
}

/* A message number argument: 1..n, not deleted, followed by nothing (or,
 * when rest is not NULL, by a blank and *rest). Returns the index, or -1. */
static long msgno(struct session *s, const char *arg, const char **rest)
{
	char *end;
	unsigned long v;

	if (arg[0] < '1' || arg[0] > '9')
		return -1;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || v == 0 || v > s->drop.n ||
	    (*end != '\0' && (*end != ' ' || rest == NULL)))
		return -1;
	if (rest != NULL)
		*rest = *end == ' ' ? end + 1 : end;
	if (s->drop.m[v - 1].deleted)
		return -1;
	return (long)(v - 1);
}

static int cmd_list_uidl(struct session *s, const char *arg, int uidl)
{
	if (arg[0] != '\0') {
		long i = msgno(s, arg, NULL);

		if (i < 0)
			return refuse(s, "No such message");
		if (uidl)
			reply(s, "+OK %ld %s", i + 1, s->drop.m[i].uidl);
		else
			reply(s, "+OK %ld %llu", i + 1, (unsigned long long)s->drop.m[i].size);
		return 0;
	}
	reply(s, "+OK");
	for (size_t i = 0; i < s->drop.n; i++) {
		if (s->drop.m[i].deleted)
			continue;
		if (uidl)
			reply(s, "%zu %s", i + 1, s->drop.m[i].uidl);
		else
			reply(s, "%zu %llu", i + 1, (unsigned long long)s->drop.m[i].size);
	}
	reply(s, ".");
	return 0;
}

static int cmd_retr_top(struct session *s, const char *arg, int top)
{
	const char *rest = "";
	long i = msgno(s, arg, &rest), lines = -1;
	char ok[64];
	struct err e;

	if (i < 0)
		return refuse(s, "No such message");
	if (top) {
		char *end;

		if (rest[0] < '0' || rest[0] > '9')
			return refuse(s, "Syntax: TOP msg n");
		errno = 0;
		lines = strtol(rest, &end, 10);
		if (*end != '\0' || errno != 0 || lines < 0)
			return refuse(s, "Syntax: TOP msg n");
	} else if (rest[0] != '\0') {
		return refuse(s, "Syntax: RETR msg");
	}
	snprintf(ok, sizeof ok, top ? "+OK" : "+OK %llu octets",
	         (unsigned long long)s->drop.m[i].size);
	if (drop_send(&s->drop, (size_t)i, lines, ok, s->n, &e) < 0) {
		log_line(s, "%s=%ld error=\"%s\"", top ? "top" : "retr", i + 1, e.msg);
		if (e.code == EX_NOINPUT)   /* nothing sent yet */
			return refuse(s, "[SYS/TEMP] The message was removed by another program");
		/* part of it is out: the only way to tell the client is to hang up */
		return -1;
	}
	reply(s, ".");
	if (!top)
		s->retrieved++;
	return 0;
}

static int transaction(struct session *s, const char *cmd, const char *arg, int *quit)
{
	if (strcasecmp(cmd, "STAT") == 0) {
		size_t count = 0;
		unsigned long long total = 0;

		for (size_t i = 0; i < s->drop.n; i++)
			if (!s->drop.m[i].deleted) {
				count++;
				total += s->drop.m[i].size;
			}
		reply(s, "+OK %zu %llu", count, total);
	} else if (strcasecmp(cmd, "LIST") == 0) {
		return cmd_list_uidl(s, arg, 0);
	} else if (strcasecmp(cmd, "UIDL") == 0) {
		return cmd_list_uidl(s, arg, 1);
	} else if (strcasecmp(cmd, "RETR") == 0) {
		return cmd_retr_top(s, arg, 0);
	} else if (strcasecmp(cmd, "TOP") == 0) {
		return cmd_retr_top(s, arg, 1);
	} else if (strcasecmp(cmd, "DELE") == 0) {
		long i = msgno(s, arg, NULL);

		if (i < 0)
			return refuse(s, "No such message");
		s->drop.m[i].deleted = 1;
		reply(s, "+OK Marked to be deleted");
	} else if (strcasecmp(cmd, "RSET") == 0) {
		for (size_t i = 0; i < s->drop.n; i++)
			s->drop.m[i].deleted = 0;
		reply(s, "+OK");
	} else if (strcasecmp(cmd, "NOOP") == 0) {
		reply(s, "+OK");
	} else if (strcasecmp(cmd, "CAPA") == 0) {
		capa(s);
	} else if (strcasecmp(cmd, "QUIT") == 0) {
		struct err e;

		*quit = 1;
		for (size_t i = 0; i < s->drop.n; i++)
			s->deleted += (unsigned)s->drop.m[i].deleted;
		if (drop_update(&s->drop, &e) < 0) {
			log_line(s, "update=failed error=\"%s\"", e.msg);
			reply(s, "-ERR [SYS/TEMP] Some deleted messages were not removed");
			return 0;
		}
		log_line(s, "logout retrieved=%u deleted=%u", s->retrieved, s->deleted);
		reply(s, "+OK Logging out, messages deleted");
	} else if (strcasecmp(cmd, "USER") == 0 || strcasecmp(cmd, "PASS") == 0 ||
	           strcasecmp(cmd, "AUTH") == 0 || strcasecmp(cmd, "STLS") == 0) {
		return refuse(s, "Already logged in");
	} else {
		return refuse(s, "Unknown command");
	}
	return 0;
}

static int authorization(struct session *s, const char *cmd, const char *arg, int *quit)
{
	if (strcasecmp(cmd, "CAPA") == 0) {
		capa(s);
	} else if (strcasecmp(cmd, "USER") == 0) {
		if (!plaintext_ok(s))
			return refuse(s, "[AUTH] Plaintext authentication disallowed without TLS: use STLS");
		if (arg[0] == '\0' || strlen(arg) > ADDR_MAX)
			return refuse(s, "Syntax: USER name");
		snprintf(s->user, sizeof s->user, "%s", arg);
		reply(s, "+OK");
	} else if (strcasecmp(cmd, "PASS") == 0) {
		if (!plaintext_ok(s))
			return refuse(s, "[AUTH] Plaintext authentication disallowed without TLS: use STLS");
		return cmd_pass(s, arg);
	} else if (strcasecmp(cmd, "AUTH") == 0) {
		return cmd_auth(s, arg);
	} else if (strcasecmp(cmd, "STLS") == 0) {
		return cmd_stls(s);
	} else if (strcasecmp(cmd, "QUIT") == 0) {
		*quit = 1;
		reply(s, "+OK Bye");
	} else if (strcasecmp(cmd, "APOP") == 0) {
		return refuse(s, "APOP is not offered");
	} else {
		return refuse(s, "Unknown command, or not before logging in");
	}
	return 0;
}

int pop3d_run(struct net *n, struct pop3d_config *c)
{
	struct session s;
	char line[LINE_MAX_POP3 + 2];
	int quit = 0, rc = -1;

	memset(&s, 0, sizeof s);
	s.n = n;
	s.c = c;
	s.drop.lock_fd = -1;
	n->deadline = time(NULL) + (time_t)c->session_timeout;
	reply(&s, "+OK mail-toolkit POP3 ready");
	while (!quit) {
		char cmd[16];
		const char *arg;
		long len;
		int bad_cr, nul, r;

		if (net_pending(n) == 0 && net_flush(n) < 0)
			break;
		len = net_getline(n, line, LINE_MAX_POP3, &bad_cr, &nul);
		if (len == -1) {
			if (n->error == ETIMEDOUT) {
				int whole = n->deadline != 0 && time(NULL) >= n->deadline;

				/* the wait is over, the reply must still go out */
				n->error = 0;
				n->deadline = 0;
				net_printf(n, "-ERR %s, closing the connection\r\n",
				           whole ? "Session too long" : "Timeout");
				net_flush(n);
				log_line(&s, "closed=%s", whole ? "session-timeout" : "timeout");
			}
			break;
		}
		if (len == -2 || nul || bad_cr) {
			if (refuse(&s, len == -2 ? "Line too long" : nul ? "NUL in the command"
			                                                 : "Bare CR in the command") < 0)
				break;
			continue;
		}
		snprintf(cmd, sizeof cmd, "%.*s", (int)strcspn(line, " "), line);
		arg = line + strlen(cmd);
		if (*arg == ' ')
			arg++;
		if (strlen(cmd) > 4 || cmd[0] == '\0') {
			if (refuse(&s, "Unknown command") < 0)
				break;
			continue;
		}
		r = s.state == AUTHORIZATION ? authorization(&s, cmd, arg, &quit)
		                             : transaction(&s, cmd, arg, &quit);
		explicit_bzero(line, sizeof line);
		if (r < 0)
			break;
	}
	net_flush(n);
	if (quit)
		rc = 0;
	else if (s.state == TRANSACTION)
		log_line(&s, "closed=\"without QUIT: nothing deleted\"");
	drop_close(&s.drop);
	return rc;
}
