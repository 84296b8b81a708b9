#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "err.h"
#include "imapbox.h"
#include "imapcache.h"
#include "imapd.h"
#include "imapfmt.h"
#include "imapread.h"
#include "imapsearch.h"
#include "mime.h"
#include "mutf7.h"
#include "sasl.h"
#include "strbuf.h"
#include "users.h"

enum { NOT_AUTHENTICATED, AUTHENTICATED, SELECTED, LOGOUT };

#define TAG_MAX 200   /* longer tags are refused: every reply line is bounded */

struct session {
	struct net *n;
	struct imapd_config *c;
	struct imap_reader r;
	int state;
	int rev2;                      /* the client ENABLEd IMAP4rev2 */
	char tag[IMAP_LINE_MAX + 1];
	char login[ADDR_MAX + 1];
	char root[PATH_MAX];           /* the user's Maildir, no trailing '/' */
	unsigned errors, auth_failures;
	struct box box;
	struct imapcache cache;        /* of the selected folder */
	int uid;                       /* the command came as UID ... */
	int no_expunge;                /* FETCH, STORE, SEARCH: EXPUNGE not allowed */
	int closing;                   /* a BYE went out: end after this command */
	/* the message the current command has open */
	struct mime_msg *mm;
	size_t mm_index;
	int mm_header_only;
};

static const char base_caps[] =
	"IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT "
	"CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE ESEARCH BINARY STATUS=SIZE";

static void log_line(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void log_line(struct session *s, const char *fmt, ...)
{
	char buf[600], safe[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	err_escape(safe, sizeof safe, buf, strlen(buf));
	fprintf(stderr, "mail-imapd: ip=%s%s%s %s\n", s->c->remote_ip ? s->c->remote_ip : "unknown",
	        s->login[0] ? " user=" : "", s->login, safe);
}

static void out(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out(struct session *s, const char *fmt, ...)
{
	char buf[1200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof buf)
		n = (int)sizeof buf - 1;
	net_write(s->n, buf, (size_t)n);
	net_write(s->n, "\r\n", 2);
}

static void report_changes(struct session *s);

/* The command's last line, after what changed in the folder meanwhile
 * (every command's end is a chance to tell: RFC 9051 7). */
static void tagged(struct session *s, const char *status, const char *text)
{
	report_changes(s);
	out(s, "%s %s %s", s->tag, status, text);
}

/* A BAD reply, counted: returns -1 when there were too many. */
static int bad(struct session *s, const char *text)
{
	tagged(s, "BAD", text);
	if (++s->errors >= s->c->max_errors) {
		out(s, "* BYE Too many errors");
		log_line(s, "closed=\"too many errors\"");
		return -1;
	}
	return 0;
}

/* The reader failed: the client went away, or a BAD. */
static int reader_failed(struct session *s)
{
	if (s->r.gone)
		return -1;
	if (imap_skip(&s->r) < 0)
		return -1;
	return bad(s, s->r.why[0] ? s->r.why : "Syntax error");
}

static int plaintext_ok(const struct session *s)
{
	return s->c->tls_active || s->c->allow_plaintext;
}

static void capabilities(struct session *s, struct strbuf *b)
{
	sb_adds(b, base_caps);
	if (s->c->max_message)
		sb_addf(b, " APPENDLIMIT=%llu", (unsigned long long)s->c->max_message);
	if (s->state == NOT_AUTHENTICATED) {
		if (s->c->starttls != NULL && !s->c->tls_active)
			sb_adds(b, " STARTTLS");
		if (plaintext_ok(s))
			sb_adds(b, " AUTH=PLAIN AUTH=SCRAM-SHA-256");
		else
			sb_adds(b, " LOGINDISABLED");
	}
}

/* ---- arguments ---- */

/* Copy the argument src into dst; -1 (with s->r.why) when it is too long. */
static int copy_arg(struct session *s, char *dst, size_t dstsz, const char *src)
{
	if (snprintf(dst, dstsz, "%s", src) < (int)dstsz)
		return 0;
	snprintf(s->r.why, sizeof s->r.why, "argument too long");
	return -1;
}

/* An astring (atom, quoted or literal) into s->r.text. Returns 0, or -1
 * (the reader says why). */
static int astring(struct session *s)
{
	switch (imap_next(&s->r, IMAP_ASTRING)) {
	case IMAP_ATOM:
	case IMAP_QUOTED:
		return 0;
	case IMAP_LITERAL:
		return imap_literal_text(&s->r, IMAP_LINE_MAX);
	case IMAP_ERROR:
		return -1;
	default:
		snprintf(s->r.why, sizeof s->r.why, "string expected");
		return -1;
	}
}

static int at_end(struct session *s)
{
	if (imap_next(&s->r, 0) == IMAP_END)
		return 1;
	snprintf(s->r.why, sizeof s->r.why, "unexpected arguments");
	return 0;
}

/* A mailbox name from the client into out, UTF-8 (IMAP4rev1 clients
 * send modified UTF-7). Returns 0, -1 (reader failed), -2 (bad name:
 * s->r.why says). */
static int mailbox_arg(struct session *s, char *out, size_t outsz, int wildcards)
{
	enum imap_tok t = imap_next(&s->r, IMAP_ASTRING | (wildcards ? IMAP_WILDCARDS : 0));

	if (t == IMAP_LITERAL) {
		if (imap_literal_text(&s->r, BOX_NAME_MAX) < 0)
			return -1;
	} else if (t != IMAP_ATOM && t != IMAP_QUOTED) {
		if (t != IMAP_ERROR)
			snprintf(s->r.why, sizeof s->r.why, "mailbox name expected");
		return -1;
	}
	if (s->rev2) {
		if (snprintf(out, outsz, "%s", s->r.text) >= (int)outsz)
			goto bad;
		for (const unsigned char *p = (const unsigned char *)out; *p; p++)
			if (*p < 0x20 || *p == 0x7f)
				goto bad;
		if (mutf7_encode(out, strlen(out), (char[BOX_NAME_MAX * 3]){ 0 }, BOX_NAME_MAX * 3) < 0)
			goto bad;   /* not UTF-8 */
	} else if (mutf7_decode(s->r.text, out, outsz) < 0) {
		goto bad;
	}
	if (strcasecmp(out, "INBOX") == 0)
		snprintf(out, outsz, "INBOX");
	return 0;
bad:
	snprintf(s->r.why, sizeof s->r.why, "bad mailbox name");
	return -2;
}

/* The command's one argument, a mailbox name, into name (BOX_NAME_MAX + 1
 * bytes). Returns 1 when the command goes on; 0 when it has been
 * answered (BAD, or NO for a bad name), *rc being what to return. */
static int mailbox_only(struct session *s, char *name, int *rc)
{
	int r = mailbox_arg(s, name, BOX_NAME_MAX + 1, 0);

	if (r == -1 || !at_end(s)) {
		*rc = reader_failed(s);
		return 0;
	}
	if (r == -2) {
		tagged(s, "NO", "[CANNOT] Bad mailbox name");
		*rc = 0;
		return 0;
	}
	return 1;
}

/* A mailbox name as the client reads it: UTF-8 or modified UTF-7. */
static void mailbox_out(struct session *s, struct strbuf *b, const char *name)
{
	char enc[BOX_NAME_MAX * 3];

	if (s->rev2 || mutf7_encode(name, strlen(name), enc, sizeof enc) < 0)
		imap_string(b, name, strlen(name));
	else
		imap_string(b, enc, strlen(enc));
}

/* ---- untagged updates ---- */

static void flag_list(struct session *s, struct strbuf *b, unsigned flags, uint32_t kw)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ IMAP_F_ANSWERED, "\\Answered" }, { IMAP_F_FLAGGED, "\\Flagged" },
		{ IMAP_F_DELETED, "\\Deleted" }, { IMAP_F_SEEN, "\\Seen" },
		{ IMAP_F_DRAFT, "\\Draft" }, { IMAP_F_RECENT, "\\Recent" },
	};
	int first = 1;

	sb_addc(b, '(');
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (flags & names[i].bit) {
			if (names[i].bit == IMAP_F_RECENT && s->rev2)
				continue;   /* no \Recent in IMAP4rev2 */
			sb_adds(b, first ? "" : " ");
			sb_adds(b, names[i].name);
			first = 0;
		}
	for (size_t k = 0; k < s->box.nkw; k++)
		if ((kw & (1u << k)) && s->box.kw[k] != NULL) {
			sb_adds(b, first ? "" : " ");
			sb_adds(b, s->box.kw[k]);
			first = 0;
		}
	sb_addc(b, ')');
}

static void send_buf(struct session *s, struct strbuf *b)
{
	if (b->failed) {
		out(s, "* BAD [SERVERBUG] Out of memory");
	} else {
		net_write(s->n, b->s, b->len);
		net_write(s->n, "\r\n", 2);
	}
	sb_reset(b);
}

static void announce_flags(struct session *s)
{
	struct strbuf b = { 0 };

	sb_adds(&b, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t k = 0; k < s->box.nkw; k++)
		if (s->box.kw[k] != NULL)
			sb_addf(&b, " %s", s->box.kw[k]);
	sb_addc(&b, ')');
	send_buf(s, &b);
	sb_adds(&b, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t k = 0; k < s->box.nkw; k++)
		if (s->box.kw[k] != NULL)
			sb_addf(&b, " %s", s->box.kw[k]);
	sb_adds(&b, s->box.nkw < BOX_KEYWORDS_MAX ? " \\*)] Flags permitted" : ")] Flags permitted");
	send_buf(s, &b);
	sb_free(&b);
}

static void report_expunges(struct session *s)
{
	for (size_t i = s->box.ngone ? s->box.n : 0; i > 0; i--)
		if (s->box.m[i - 1].gone)
			out(s, "* %zu EXPUNGE", i);
	box_apply_expunges(&s->box);
}

/* Tell the client what changed in the selected folder. */
static void report_changes(struct session *s)
{
	struct box_changes c;
	struct strbuf b = { 0 };
	struct err e;

	if (s->state != SELECTED || s->closing)
		return;
	if (box_sync(&s->box, &c, &e) < 0) {
		log_line(s, "error=\"%s\"", e.msg);
		return;
	}
	if (c.invalid) {
		/* RFC 9051 2.3.1.1: UIDs the client holds are void; it must
		 * start again */
		out(s, "* BYE [UIDVALIDITY] The mailbox's UIDs were reset, please reconnect");
		log_line(s, "closed=\"uidvalidity changed\"");
		s->closing = 1;
		box_changes_free(&c);
		return;
	}
	if (c.keywords)
		announce_flags(s);
	for (size_t k = 0; k < c.nflagged; k++) {
		size_t i = c.flagged[k];

		sb_addf(&b, "* %zu FETCH (UID %lu FLAGS ", i + 1, (unsigned long)s->box.m[i].uid);
		flag_list(s, &b, s->box.m[i].flags, s->box.m[i].keywords);
		sb_addc(&b, ')');
		send_buf(s, &b);
	}
	if (!s->no_expunge)
		report_expunges(s);
	if (c.nnew > 0) {
		out(s, "* %zu EXISTS", s->box.n);
		if (!s->rev2)
			out(s, "* %zu RECENT", s->box.recent);
	}
	box_changes_free(&c);
	sb_free(&b);
}

/* ---- not authenticated ---- */

static int logged_in(struct session *s, const char *account)
{
	struct user u;
	char mailbox[PATH_MAX];
	int maildir, found;
	size_t len;
	struct err e;

	found = users_lookup(s->c->users_file, account, &u, NULL, &e);
	if (found <= 0) {
		log_line(s, "login=%s error=\"%s\"", account, found == 0 ? "no such account" : e.msg);
		tagged(s, "NO", "[UNAVAILABLE] Cannot find the mailbox, try again later");
		return 0;
	}
	if (users_mailbox(&u, s->c->mail_root, mailbox, sizeof mailbox, &maildir, &e) < 0 ||
	    !maildir) {
		user_free(&u);
		log_line(s, "login=%s error=\"%s\"", account, maildir ? e.msg : "mbox, not a Maildir");
		tagged(s, "NO", "[UNAVAILABLE] The mailbox is not a Maildir");
		return 0;
	}
	user_free(&u);
	snprintf(s->login, sizeof s->login, "%s", account);
	if (s->c->become != NULL && s->c->become(s->c->become_ctx, mailbox, &e) < 0) {
		log_line(s, "error=\"%s\"", e.msg);
		out(s, "* BYE Cannot open the mailbox");
		return -1;   /* half-dropped rights: end the process */
	}
	len = strlen(mailbox);
	while (len > 1 && mailbox[len - 1] == '/')
		mailbox[--len] = '\0';
	snprintf(s->root, sizeof s->root, "%s", mailbox);
	if (box_make_specials(s->root, &e) < 0)
		log_line(s, "error=\"%s\"", e.msg);   /* not fatal: the folders come later */
	s->state = AUTHENTICATED;
	log_line(s, "login=ok");

	struct strbuf b = { 0 };

	sb_addf(&b, "%s OK [CAPABILITY ", s->tag);
	capabilities(s, &b);
	sb_adds(&b, "] Logged in");
	send_buf(s, &b);
	sb_free(&b);
	return 0;
}

static int cmd_login(struct session *s)
{
	char user[ADDR_MAX + 1], account[ADDR_MAX + 1], *pass;
	struct err e;
	int ok;

	if (astring(s) < 0 || copy_arg(s, user, sizeof user, s->r.text) < 0)
		return reader_failed(s);
	if (astring(s) < 0)
		return reader_failed(s);
	if ((pass = strdup(s->r.text)) == NULL)
		return -1;
	explicit_bzero(s->r.text, sizeof s->r.text);
	if (!at_end(s)) {
		explicit_bzero(pass, strlen(pass));
		free(pass);
		return reader_failed(s);
	}
	if (!plaintext_ok(s)) {
		explicit_bzero(pass, strlen(pass));
		free(pass);
		tagged(s, "NO", "[PRIVACYREQUIRED] LOGIN needs TLS first (STARTTLS)");
		return 0;
	}
	ok = auth_password(s->c->users_file, s->c->realm, user, pass, account, &e);
	explicit_bzero(pass, strlen(pass));
	free(pass);
	if (ok < 0) {
		log_line(s, "login=%s error=\"%s\"", user, e.msg);
		tagged(s, "NO", "[UNAVAILABLE] Cannot check the password now, try again later");
		return 0;
	}
	if (ok == 0) {
		struct auth a;

		auth_init(&a, s->c->users_file, s->c->realm, s->c->auth_delay_ms);
		a.failures = s->auth_failures;
		auth_delay(&a);
		s->auth_failures = a.failures;
		log_line(s, "login=%s auth=failed", user);
		tagged(s, "NO", "[AUTHENTICATIONFAILED] Wrong user name or password");
		return 0;
	}
	return logged_in(s, account);
}

static int cmd_authenticate(struct session *s)
{
	char mech[64], initial[SASL_LINE_MAX + 1] = "";
	enum auth_mech m;
	enum sasl_result res;
	struct auth a;
	struct err e;

	if (imap_next(&s->r, 0) != IMAP_ATOM || copy_arg(s, mech, sizeof mech, s->r.text) < 0)
		return reader_failed(s);
	switch (imap_next(&s->r, 0)) {
	case IMAP_END:
		break;
	case IMAP_ATOM:   /* SASL-IR (RFC 4959): base64 or "=" */
		snprintf(initial, sizeof initial, "%s", s->r.text);
		if (!at_end(s))
			return reader_failed(s);
		break;
	default:
		return reader_failed(s);
	}
	m = auth_mech_named(mech);
	if (m != AUTH_PLAIN && m != AUTH_SCRAM_SHA_256) {
		tagged(s, "NO", "[CANNOT] Unsupported authentication mechanism");
		return 0;
	}
	if (!plaintext_ok(s)) {
		tagged(s, "NO", "[PRIVACYREQUIRED] Authentication needs TLS first (STARTTLS)");
		return 0;
	}
	auth_init(&a, s->c->users_file, s->c->realm, s->c->auth_delay_ms);
	a.failures = s->auth_failures;
	auth_start(&a, m);
	res = sasl_exchange(&a, s->n, "+ ", initial, &e);
	s->auth_failures = a.failures;
	explicit_bzero(initial, sizeof initial);
	switch (res) {
	case SASL_OK: {
		char account[ADDR_MAX + 1];

		snprintf(account, sizeof account, "%s", a.user);
		auth_end(&a);
		return logged_in(s, account);
	}
	case SASL_GONE:
		auth_end(&a);
		return -1;
	case SASL_TEMPFAIL:
		log_line(s, "auth=%s error=\"%s\"", mech, e.msg);
		tagged(s, "NO", "[UNAVAILABLE] Cannot check the credentials now, try again later");
		break;
	case SASL_CANCELLED:
		return auth_end(&a), bad(s, "Authentication cancelled");
	case SASL_BAD_INITIAL:
	case SASL_BAD_RESPONSE:
	case SASL_TOO_LONG:
		return auth_end(&a), bad(s, "Malformed authentication response");
	case SASL_FAIL:
		log_line(s, "auth=%s login=%s auth=failed reason=\"%s\"", mech, a.user, e.msg);
		tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
		break;
	}
	auth_end(&a);
	return 0;
}

static int cmd_starttls(struct session *s)
{
	if (!at_end(s))
		return reader_failed(s);
	if (s->c->starttls == NULL || s->c->tls_active) {
		tagged(s, "NO", s->c->tls_active ? "TLS is active already" : "TLS is not available");
		return 0;
	}
	if (s->c->tls_prepare != NULL && s->c->tls_prepare(s->c->tls_ctx) < 0) {
		tagged(s, "NO", "[UNAVAILABLE] TLS is not available now");
		return 0;
	}
	/* commands pipelined after STARTTLS came in plaintext: never run
	 * them as if they came through TLS (RFC 9051 11.1) */
	if (net_discard(s->n) > 0)
		log_line(s, "tls=\"plaintext after STARTTLS thrown away\"");
	tagged(s, "OK", "Begin TLS negotiation now");
	if (net_flush(s->n) < 0)
		return -1;
	if (s->c->starttls(s->c->tls_ctx, s->n, s->c->tls_info, sizeof s->c->tls_info) < 0)
		return -1;
	s->c->tls_active = 1;
	return 0;
}

/* ---- any state ---- */

static int cmd_capability(struct session *s)
{
	struct strbuf b = { 0 };

	if (!at_end(s))
		return reader_failed(s);
	sb_adds(&b, "* CAPABILITY ");
	capabilities(s, &b);
	send_buf(s, &b);
	sb_free(&b);
	tagged(s, "OK", "Capability completed");
	return 0;
}

static int cmd_id(struct session *s)
{
	enum imap_tok t = imap_next(&s->r, 0);

	/* the client's parameters are read and not kept (RFC 2971) */
	if (t == IMAP_LPAREN) {
		for (int k = 0; (t = imap_next(&s->r, 0)) != IMAP_RPAREN; k++) {
			if (t == IMAP_LITERAL && imap_literal_text(&s->r, 1024) < 0)
				return reader_failed(s);
			if ((t != IMAP_QUOTED && t != IMAP_ATOM && t != IMAP_LITERAL) || k >= 60)
				return reader_failed(s);
		}
	} else if (t != IMAP_ATOM || strcasecmp(s->r.text, "NIL") != 0) {
		return reader_failed(s);
	}
	if (!at_end(s))
		return reader_failed(s);
	out(s, "* ID (\"name\" \"mail-toolkit\" \"version\" \"%s\")", PACKAGE_VERSION);
	tagged(s, "OK", "ID completed");
	return 0;
}

static int cmd_enable(struct session *s)
{
	struct strbuf b = { 0 };
	enum imap_tok t;
	int any = 0;

	sb_adds(&b, "* ENABLED");
	while ((t = imap_next(&s->r, 0)) == IMAP_ATOM) {
		any = 1;
		if (strcasecmp(s->r.text, "IMAP4rev2") == 0 && !s->rev2) {
			s->rev2 = 1;
			sb_adds(&b, " IMAP4rev2");
		}
	}
	if (t != IMAP_END || !any) {
		sb_free(&b);
		return reader_failed(s);
	}
	send_buf(s, &b);
	sb_free(&b);
	tagged(s, "OK", "Enabled");
	return 0;
}

/* ---- authenticated ---- */

static void unselect(struct session *s)
{
	if (s->state == SELECTED) {
		cache_free(&s->cache);
		box_close(&s->box);
		s->state = AUTHENTICATED;
	}
}

static int cmd_select(struct session *s, int readonly)
{
	char name[BOX_NAME_MAX + 1];
	struct err e;
	size_t unseen = 0;
	int rc;

	if (!mailbox_only(s, name, &rc))
		return rc;
	if (s->state == SELECTED) {
		unselect(s);
		out(s, "* OK [CLOSED] Previous mailbox closed");
	}
	if (box_open(&s->box, s->root, name, readonly, &e) < 0) {
		if (e.code == EX_NOINPUT) {
			tagged(s, "NO", "[NONEXISTENT] No such mailbox");
		} else {
			log_line(s, "select=%s error=\"%s\"", name, e.msg);
			tagged(s, "NO", "[SERVERBUG] Cannot open the mailbox");
		}
		return 0;
	}
	s->state = SELECTED;
	cache_init(&s->cache, s->box.dir, s->box.validity);
	announce_flags(s);
	out(s, "* %zu EXISTS", s->box.n);
	if (!s->rev2)
		out(s, "* %zu RECENT", s->box.recent);
	unseen = s->box.first_unseen;
	if (unseen && !s->rev2)
		out(s, "* OK [UNSEEN %zu] First unseen", unseen);
	out(s, "* OK [UIDVALIDITY %lu] UIDs valid", (unsigned long)s->box.validity);
	out(s, "* OK [UIDNEXT %lu] Predicted next UID", (unsigned long)s->box.uidnext);
	if (s->rev2) {
		struct strbuf b = { 0 };

		sb_adds(&b, "* LIST () \".\" ");
		mailbox_out(s, &b, s->box.name);
		send_buf(s, &b);
		sb_free(&b);
	}
	tagged(s, "OK", readonly ? "[READ-ONLY] Examined" : "[READ-WRITE] Selected");
	return 0;
}

/* Answer a failed folder operation. */
static void folder_failed(struct session *s, const char *what, const char *name, const struct err *e)
{
	switch (e->code) {
	case EX_NOINPUT: tagged(s, "NO", "[NONEXISTENT] No such mailbox"); return;
	case EX_CANTCREAT: tagged(s, "NO", "[ALREADYEXISTS] Mailbox exists already"); return;
	case EX_USAGE: tagged(s, "NO", "[CANNOT] Bad mailbox name"); return;
	case EX_NOPERM: tagged(s, "NO", "[CANNOT] Not allowed"); return;
	default:
		log_line(s, "%s=%s error=\"%s\"", what, name, e->msg);
		tagged(s, "NO", "[SERVERBUG] The operation failed");
	}
}

static int cmd_create(struct session *s)
{
	char name[BOX_NAME_MAX + 1];
	struct err e;
	size_t len;
	int rc;

	if ((rc = mailbox_arg(s, name, sizeof name, 0)) == -1 || !at_end(s))
		return reader_failed(s);
	/* "a.b." asks for a name to hold children: a folder all the same */
	len = strlen(name);
	if (rc == 0 && len > 1 && name[len - 1] == '.')
		name[len - 1] = '\0';
	if (rc == -2 || box_create(s->root, name, &e) < 0) {
		if (rc == -2)
			e.code = EX_USAGE;
		folder_failed(s, "create", name, &e);
		return 0;
	}
	tagged(s, "OK", "Created");
	return 0;
}

static int cmd_delete(struct session *s)
{
	char name[BOX_NAME_MAX + 1];
	struct err e;
	int rc;

	if (!mailbox_only(s, name, &rc))
		return rc;
	if (s->state == SELECTED && strcmp(s->box.name, name) == 0 && strcmp(name, "INBOX") != 0) {
		tagged(s, "NO", "[INUSE] The mailbox is selected");
		return 0;
	}
	if (box_delete(s->root, name, &e) < 0) {
		folder_failed(s, "delete", name, &e);
		return 0;
	}
	(void)box_subscribe(s->root, name, 0, &e);
	tagged(s, "OK", "Deleted");
	return 0;
}

static int cmd_rename(struct session *s)
{
	char from[BOX_NAME_MAX + 1], to[BOX_NAME_MAX + 1];
	struct err e;
	int r1, r2;

	if ((r1 = mailbox_arg(s, from, sizeof from, 0)) == -1 ||
	    (r2 = mailbox_arg(s, to, sizeof to, 0)) == -1 || !at_end(s))
		return reader_failed(s);
	if (r1 == -2 || r2 == -2) {
		tagged(s, "NO", "[CANNOT] Bad mailbox name");
		return 0;
	}
	if (box_rename(s->root, from, to, &e) < 0) {
		folder_failed(s, "rename", from, &e);
		return 0;
	}
	tagged(s, "OK", "Renamed");
	return 0;
}

static int cmd_subscribe(struct session *s, int on)
{
	char name[BOX_NAME_MAX + 1];
	struct err e;
	int rc;

	if (!mailbox_only(s, name, &rc))
		return rc;
	if (box_subscribe(s->root, name, on, &e) < 0) {
		folder_failed(s, "subscribe", name, &e);
		return 0;
	}
	tagged(s, "OK", on ? "Subscribed" : "Unsubscribed");
	return 0;
}

static int cmd_namespace(struct session *s)
{
	if (!at_end(s))
		return reader_failed(s);
	out(s, "* NAMESPACE ((\"\" \".\")) NIL NIL");
	tagged(s, "OK", "Namespace completed");
	return 0;
}

/* STATUS items, as bits. */
enum {
	ST_MESSAGES = 1, ST_UIDNEXT = 2, ST_UIDVALIDITY = 4, ST_UNSEEN = 8, ST_RECENT = 16,
	ST_SIZE = 32, ST_DELETED = 64
};

/* Parse "(ITEM ...)"; the "(" has been read. Returns the bits, or -1. */
static int status_items(struct session *s)
{
	static const struct { const char *name; int bit; } items[] = {
		{ "MESSAGES", ST_MESSAGES }, { "UIDNEXT", ST_UIDNEXT },
		{ "UIDVALIDITY", ST_UIDVALIDITY }, { "UNSEEN", ST_UNSEEN },
		{ "RECENT", ST_RECENT }, { "SIZE", ST_SIZE }, { "DELETED", ST_DELETED },
	};
	enum imap_tok t;
	int bits = 0;

	while ((t = imap_next(&s->r, 0)) == IMAP_ATOM) {
		size_t i;

		for (i = 0; i < sizeof items / sizeof *items; i++)
			if (strcasecmp(s->r.text, items[i].name) == 0)
				break;
		if (i == sizeof items / sizeof *items) {
			snprintf(s->r.why, sizeof s->r.why, "unknown status item");
			return -1;
		}
		bits |= items[i].bit;
	}
	if (t != IMAP_RPAREN || bits == 0) {
		snprintf(s->r.why, sizeof s->r.why, "status items expected");
		return -1;
	}
	return bits;
}

/* "* STATUS name (...)" for name; -1 when it could not be read. */
static int status_line(struct session *s, const char *name, int bits, struct err *e)
{
	struct box_status st;
	struct strbuf b = { 0 };
	const char *sep = "";

	if (box_status(s->root, name, &st, e) < 0)
		return -1;
	sb_adds(&b, "* STATUS ");
	mailbox_out(s, &b, name);
	sb_adds(&b, " (");
#define ITEM(bit, fmt, v) if (bits & (bit)) { sb_addf(&b, "%s" fmt, sep, v); sep = " "; }
	ITEM(ST_MESSAGES, "MESSAGES %lu", (unsigned long)st.messages);
	ITEM(ST_UIDNEXT, "UIDNEXT %lu", (unsigned long)st.uidnext);
	ITEM(ST_UIDVALIDITY, "UIDVALIDITY %lu", (unsigned long)st.validity);
	ITEM(ST_UNSEEN, "UNSEEN %lu", (unsigned long)st.unseen);
	ITEM(ST_RECENT, "RECENT %lu", (unsigned long)st.recent);
	ITEM(ST_SIZE, "SIZE %llu", (unsigned long long)st.size);
	ITEM(ST_DELETED, "DELETED %lu", (unsigned long)st.deleted);
#undef ITEM
	sb_addc(&b, ')');
	send_buf(s, &b);
	sb_free(&b);
	return 0;
}

static int cmd_status(struct session *s)
{
	char name[BOX_NAME_MAX + 1];
	struct err e;
	int rc, bits;

	if ((rc = mailbox_arg(s, name, sizeof name, 0)) == -1 || imap_next(&s->r, 0) != IMAP_LPAREN ||
	    (bits = status_items(s)) < 0 || !at_end(s))
		return reader_failed(s);
	if (rc == -2) {
		tagged(s, "NO", "[CANNOT] Bad mailbox name");
		return 0;
	}
	if (status_line(s, name, bits, &e) < 0) {
		folder_failed(s, "status", name, &e);
		return 0;
	}
	tagged(s, "OK", "Status completed");
	return 0;
}

/* Does name match the LIST pattern pat ('*' anything, '%' anything but
 * the delimiter)? INBOX matches in any case. */
static int list_match(const char *pat, const char *name)
{
	if (*pat == '\0')
		return *name == '\0';
	if (*pat == '*') {
		for (const char *p = name;; p++) {
			if (list_match(pat + 1, p))
				return 1;
			if (*p == '\0')
				return 0;
		}
	}
	if (*pat == '%') {
		for (const char *p = name;; p++) {
			if (list_match(pat + 1, p))
				return 1;
			if (*p == '\0' || *p == '.')
				return 0;
		}
	}
	return *name != '\0' && *pat == *name && list_match(pat + 1, name + 1);
}

static int pattern_match(const char *pat, const char *name)
{
	/* INBOX is case-insensitive, also as a pattern's start */
	if (strncasecmp(pat, "INBOX", 5) == 0 && strncmp(name, "INBOX", 5) == 0) {
		if (list_match(pat + 5, name + 5))
			return 1;
	}
	return list_match(pat, name);
}

static int in_list(char **v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return 1;
	return 0;
}

static int has_children(char **v, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (strncmp(v[i], name, len) == 0 && v[i][len] == '.')
			return 1;
	return 0;
}

enum { SEL_SUBSCRIBED = 1, SEL_SPECIAL = 2, SEL_RECURSIVE = 4,
       RET_SUBSCRIBED = 1, RET_CHILDREN = 2, RET_SPECIAL = 4, RET_STATUS = 8 };

static int cmd_list(struct session *s, int lsub)
{
	char ref[BOX_NAME_MAX + 1], pats[8][BOX_NAME_MAX + 1], **names = NULL, **subs = NULL;
	size_t npat = 0, nn = 0, ns = 0, nall = 0;
	int sel = 0, ret = 0, status_bits = 0, rc;
	enum imap_tok t;
	struct err e;
	struct strbuf b = { 0 };
	char **all = NULL;

	t = imap_next(&s->r, IMAP_ASTRING);
	if (t == IMAP_LPAREN && !lsub) {   /* selection options (RFC 5258) */
		while ((t = imap_next(&s->r, 0)) == IMAP_ATOM) {
			if (strcasecmp(s->r.text, "SUBSCRIBED") == 0)
				sel |= SEL_SUBSCRIBED;
			else if (strcasecmp(s->r.text, "SPECIAL-USE") == 0)
				sel |= SEL_SPECIAL;
			else if (strcasecmp(s->r.text, "RECURSIVEMATCH") == 0)
				sel |= SEL_RECURSIVE;
			else if (strcasecmp(s->r.text, "REMOTE") != 0)
				return reader_failed(s);
		}
		if (t != IMAP_RPAREN || sel == SEL_RECURSIVE)
			return reader_failed(s);
		t = imap_next(&s->r, IMAP_ASTRING);
	}
	/* the reference: a mailbox name prefix */
	if (t == IMAP_LITERAL && imap_literal_text(&s->r, BOX_NAME_MAX) < 0)
		return reader_failed(s);
	if (t != IMAP_ATOM && t != IMAP_QUOTED && t != IMAP_LITERAL)
		return reader_failed(s);
	if (copy_arg(s, ref, sizeof ref, s->r.text) < 0)
		return reader_failed(s);
	t = imap_next(&s->r, IMAP_ASTRING | IMAP_WILDCARDS);
	if (t == IMAP_LPAREN && !lsub) {
		while ((t = imap_next(&s->r, IMAP_ASTRING | IMAP_WILDCARDS)) != IMAP_RPAREN) {
			if (t == IMAP_LITERAL && imap_literal_text(&s->r, BOX_NAME_MAX) < 0)
				return reader_failed(s);
			if ((t != IMAP_ATOM && t != IMAP_QUOTED && t != IMAP_LITERAL) || npat == 8)
				return reader_failed(s);
			if (snprintf(pats[npat++], sizeof pats[0], "%s%s", ref, s->r.text) >= (int)sizeof pats[0])
				return reader_failed(s);
		}
	} else {
		if (t == IMAP_LITERAL && imap_literal_text(&s->r, BOX_NAME_MAX) < 0)
			return reader_failed(s);
		if (t != IMAP_ATOM && t != IMAP_QUOTED && t != IMAP_LITERAL)
			return reader_failed(s);
		if (snprintf(pats[npat++], sizeof pats[0], "%s%s", ref, s->r.text) >= (int)sizeof pats[0])
			return reader_failed(s);
	}
	t = imap_next(&s->r, 0);
	if (t == IMAP_ATOM && !lsub && strcasecmp(s->r.text, "RETURN") == 0) {
		if (imap_next(&s->r, 0) != IMAP_LPAREN)
			return reader_failed(s);
		while ((t = imap_next(&s->r, 0)) == IMAP_ATOM) {
			if (strcasecmp(s->r.text, "SUBSCRIBED") == 0)
				ret |= RET_SUBSCRIBED;
			else if (strcasecmp(s->r.text, "CHILDREN") == 0)
				ret |= RET_CHILDREN;
			else if (strcasecmp(s->r.text, "SPECIAL-USE") == 0)
				ret |= RET_SPECIAL;
			else if (strcasecmp(s->r.text, "STATUS") == 0) {
				if (imap_next(&s->r, 0) != IMAP_LPAREN || (status_bits = status_items(s)) < 0)
					return reader_failed(s);
				ret |= RET_STATUS;
			} else
				return reader_failed(s);
		}
		if (t != IMAP_RPAREN)
			return reader_failed(s);
		t = imap_next(&s->r, 0);
	}
	if (t != IMAP_END)
		return reader_failed(s);

	/* LIST "" "": the delimiter and the root */
	if (!lsub && npat == 1 && pats[0][0] == '\0') {
		out(s, "* LIST (\\Noselect) \".\" \"\"");
		tagged(s, "OK", "List completed");
		return 0;
	}
	if (box_list(s->root, &names, &nn, &e) < 0 || box_subscriptions(s->root, &subs, &ns, &e) < 0) {
		box_list_free(names, nn);
		log_line(s, "list error=\"%s\"", e.msg);
		tagged(s, "NO", "[SERVERBUG] Cannot list the mailboxes");
		return 0;
	}
	/* the names to consider: folders, their missing parents, and with
	 * SUBSCRIBED the subscriptions of folders that are gone */
	for (size_t i = 0; i < nn + ns; i++) {
		const char *src = i < nn ? names[i] : subs[i - nn];
		char name[BOX_NAME_MAX + 1];

		if (i >= nn && !(sel & SEL_SUBSCRIBED) && !lsub)
			break;
		snprintf(name, sizeof name, "%s", src);
		for (;;) {
			char **p;

			if (!in_list(all, nall, name)) {
				if ((p = realloc(all, (nall + 1) * sizeof *p)) == NULL ||
				    ((all = p), (p[nall] = strdup(name)) == NULL))
					break;
				nall++;
			}
			char *dot = strrchr(name, '.');

			if (dot == NULL)
				break;
			*dot = '\0';
		}
	}
	qsort(all, nall, sizeof *all, box_name_cmp);
	for (size_t i = 0; i < nall; i++) {
		const char *name = all[i];
		int exists = in_list(names, nn, name), subscribed = in_list(subs, ns, name);
		int children = has_children(names, nn, name);
		const char *use = box_special_use(name);
		int match = 0;

		for (size_t k = 0; k < npat && !match; k++)
			match = pattern_match(pats[k], name);
		if (!match)
			continue;
		if (lsub) {
			if (!subscribed && !(has_children(subs, ns, name) && strchr(pats[0], '%')))
				continue;
			sb_addf(&b, "* LSUB (%s) \".\" ", subscribed ? "" : "\\Noselect");
			mailbox_out(s, &b, name);
			send_buf(s, &b);
			continue;
		}
		/* RECURSIVEMATCH (RFC 5258 3.5): a name that does not match
		 * but has subscribed children comes with CHILDINFO */
		int childinfo = (sel & SEL_RECURSIVE) && (sel & SEL_SUBSCRIBED) && !subscribed &&
		                has_children(subs, ns, name);

		if ((sel & SEL_SUBSCRIBED) && !subscribed && !childinfo)
			continue;
		if ((sel & SEL_SPECIAL) && use == NULL)
			continue;
		if (!exists && !subscribed && !children)
			continue;
		sb_adds(&b, "* LIST (");
		rc = 0;
#define ATTR(x) do { sb_adds(&b, rc++ ? " " : ""); sb_adds(&b, x); } while (0)
		if (!exists)
			ATTR(s->rev2 || children == 0 ? "\\NonExistent" : "\\Noselect");
		ATTR(children ? "\\HasChildren" : "\\HasNoChildren");
		if (subscribed && (ret & RET_SUBSCRIBED || sel & SEL_SUBSCRIBED))
			ATTR("\\Subscribed");
		if (use != NULL && exists)
			ATTR(use);
#undef ATTR
		sb_adds(&b, ") \".\" ");
		mailbox_out(s, &b, name);
		if (childinfo)
			sb_adds(&b, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
		send_buf(s, &b);
		if ((ret & RET_STATUS) && exists && status_line(s, name, status_bits, &e) < 0)
			log_line(s, "status=%s error=\"%s\"", name, e.msg);
	}
	for (size_t i = 0; i < nall; i++)
		free(all[i]);
	free(all);
	box_list_free(names, nn);
	box_list_free(subs, ns);
	sb_free(&b);
	tagged(s, "OK", lsub ? "Lsub completed" : "List completed");
	return 0;
}

/* "dd-Mon-yyyy hh:mm:ss +zzzz" (RFC 9051 date-time; the day may be
 * " d"), or -1. */
static time_t parse_datetime(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int d, y, H, M, S, z, used = 0;
	char mon[4], sign;
	struct tm tm = { 0 };
	const char *mp;
	time_t t;

	if (sscanf(s, "%2d-%3c-%4d %2d:%2d:%2d %c%4d%n", &d, mon, &y, &H, &M, &S, &sign, &z,
	           &used) != 8 || s[used] != '\0' || (sign != '+' && sign != '-'))
		return -1;
	mon[3] = '\0';
	for (mp = months; *mp; mp += 3)
		if (strncasecmp(mp, mon, 3) == 0)
			break;
	if (*mp == '\0' || d < 1 || d > 31 || y < 1900 || H > 23 || M > 59 || S > 60 ||
	    z % 100 > 59 || z > 2359)
		return -1;
	tm.tm_mday = d;
	tm.tm_mon = (int)(mp - months) / 3;
	tm.tm_year = y - 1900;
	tm.tm_hour = H;
	tm.tm_min = M;
	tm.tm_sec = S;
	if ((t = timegm(&tm)) == -1)
		return -1;
	t -= (sign == '-' ? -1 : 1) * ((z / 100) * 3600 + (z % 100) * 60);
	return t;
}

/* A flag list's flags: system flags into *flags, keyword names into kw
 * (up to max). The "(" has been read unless bare. Returns 0, or -1. */
static int flag_args(struct session *s, int bare, unsigned *flags, char kw[][BOX_KEYWORD_LEN + 1],
                     size_t max, size_t *nkw)
{
	static const struct { const char *name; unsigned bit; } sys[] = {
		{ "\\Seen", IMAP_F_SEEN }, { "\\Answered", IMAP_F_ANSWERED },
		{ "\\Flagged", IMAP_F_FLAGGED }, { "\\Deleted", IMAP_F_DELETED },
		{ "\\Draft", IMAP_F_DRAFT },
	};
	enum imap_tok t;

	*flags = 0;
	*nkw = 0;
	while ((t = imap_next(&s->r, 0)) == IMAP_ATOM) {
		size_t i;

		if (s->r.text[0] == '\\') {
			for (i = 0; i < sizeof sys / sizeof *sys; i++)
				if (strcasecmp(s->r.text, sys[i].name) == 0)
					break;
			if (i == sizeof sys / sizeof *sys) {
				snprintf(s->r.why, sizeof s->r.why, "unknown system flag");
				return -1;
			}
			*flags |= sys[i].bit;
			continue;
		}
		if (strlen(s->r.text) > BOX_KEYWORD_LEN || strpbrk(s->r.text, "[]") != NULL) {
			snprintf(s->r.why, sizeof s->r.why, "bad keyword");
			return -1;
		}
		for (i = 0; i < *nkw; i++)
			if (strcasecmp(kw[i], s->r.text) == 0)
				break;
		if (i < *nkw)
			continue;
		if (*nkw == max) {
			snprintf(s->r.why, sizeof s->r.why, "too many keywords");
			return -1;
		}
		snprintf(kw[(*nkw)++], BOX_KEYWORD_LEN + 1, "%s", s->r.text);
	}
	if (bare ? t != IMAP_END : t != IMAP_RPAREN) {
		snprintf(s->r.why, sizeof s->r.why, "bad flag list");
		return -1;
	}
	return 0;
}

static int cmd_append(struct session *s)
{
	char name[BOX_NAME_MAX + 1], kw[BOX_KEYWORDS_MAX][BOX_KEYWORD_LEN + 1];
	const char *kwp[BOX_KEYWORDS_MAX];
	unsigned flags = 0;
	size_t nkw = 0;
	time_t when = 0;
	enum imap_tok t;
	uint32_t uid, validity;
	struct err e;
	int rc, fd;

	if ((rc = mailbox_arg(s, name, sizeof name, 0)) == -1)
		return reader_failed(s);
	t = imap_next(&s->r, 0);
	if (t == IMAP_LPAREN) {
		if (flag_args(s, 0, &flags, kw, BOX_KEYWORDS_MAX, &nkw) < 0)
			return reader_failed(s);
		t = imap_next(&s->r, 0);
	}
	if (t == IMAP_QUOTED) {
		if ((when = parse_datetime(s->r.text)) == -1) {
			snprintf(s->r.why, sizeof s->r.why, "bad date-time");
			return reader_failed(s);
		}
		t = imap_next(&s->r, 0);
	}
	if (t == IMAP_ATOM && strcmp(s->r.text, "~") == 0)
		t = imap_next(&s->r, 0);   /* literal8 (RFC 3516): the same here */
	if (t != IMAP_LITERAL)
		return reader_failed(s);
	if (rc == -2) {
		if (imap_skip(&s->r) < 0)
			return -1;
		tagged(s, "NO", "[CANNOT] Bad mailbox name");
		return 0;
	}
	if ((fd = open(s->root, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) < 0) {
		log_line(s, "append error=\"temporary file: %s\"", strerror(errno));
		if (imap_skip(&s->r) < 0)
			return -1;
		tagged(s, "NO", "[SERVERBUG] Cannot take the message now");
		return 0;
	}
	if (imap_literal_stream(&s->r, fd, s->c->max_message ? s->c->max_message : UINT64_MAX) < 0) {
		close(fd);
		if (s->r.gone)
			return -1;
		if (strstr(s->r.why, "too large") != NULL) {
			if (imap_skip(&s->r) < 0)
				return -1;
			tagged(s, "NO", "[TOOBIG] The message is larger than APPENDLIMIT");
			return 0;
		}
		if (strncmp(s->r.why, "write:", 6) == 0) {
			/* the message was read whole: the stream is in step */
			log_line(s, "append error=\"%s\"", s->r.why);
			if (imap_skip(&s->r) < 0)
				return -1;
			tagged(s, "NO", "[UNAVAILABLE] Cannot store the message now");
			return 0;
		}
		return reader_failed(s);
	}
	if (!at_end(s)) {
		close(fd);
		return reader_failed(s);   /* MULTIAPPEND is not offered */
	}
	for (size_t k = 0; k < nkw; k++)
		kwp[k] = kw[k];
	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    box_append(s->root, name, fd, flags, kwp, nkw, when, &uid, &validity, &e) < 0) {
		close(fd);
		if (e.code == EX_NOINPUT)
			tagged(s, "NO", "[TRYCREATE] No such mailbox");
		else if (e.code == EX_CANTCREAT)
			tagged(s, "NO", "[OVERQUOTA] Over quota");
		else if (e.code == EX_DATAERR)
			tagged(s, "NO", "[LIMIT] No room for more keywords in this mailbox");
		else if (e.code == EX_USAGE)
			tagged(s, "NO", "[CANNOT] Bad mailbox name");
		else {
			log_line(s, "append=%s error=\"%s\"", name, e.msg);
			tagged(s, "NO", "[SERVERBUG] Cannot store the message now");
		}
		return 0;
	}
	close(fd);
	report_changes(s);
	if (uid != 0)
		out(s, "%s OK [APPENDUID %lu %lu] Append completed", s->tag, (unsigned long)validity,
		    (unsigned long)uid);
	else
		tagged(s, "OK", "Append completed");
	return 0;
}

/* ---- selected ---- */

/* The view indexes a sequence set (or UID set) names, ascending, gone
 * messages left out. Returns the count, or -1 for a bad set. */
static long set_arg(struct session *s, const char *text, size_t **out)
{
	struct imap_set set;
	size_t *v, n = 0;
	uint32_t star;

	*out = NULL;
	if (imap_set_parse(text, &set) < 0) {
		snprintf(s->r.why, sizeof s->r.why, "bad sequence set");
		return -1;
	}
	if ((v = malloc((s->box.n ? s->box.n : 1) * sizeof *v)) == NULL) {
		imap_set_free(&set);
		return -1;
	}
	star = s->uid ? (s->box.n ? s->box.m[s->box.n - 1].uid : 0) : (uint32_t)s->box.n;
	if (!s->uid)
		for (size_t k = 0; k < set.n; k++)
			if ((set.r[k].lo != IMAP_STAR && set.r[k].lo > s->box.n) ||
			    (set.r[k].hi != IMAP_STAR && set.r[k].hi > s->box.n)) {
				/* RFC 9051 6.4.5: a message number that does not exist */
				snprintf(s->r.why, sizeof s->r.why, "no such message");
				imap_set_free(&set);
				free(v);
				return -1;
			}
	for (size_t i = 0; i < s->box.n; i++)
		if (imap_set_contains(&set, s->uid ? s->box.m[i].uid : (uint32_t)(i + 1), star))
			v[n++] = i;
	imap_set_free(&set);
	*out = v;
	return (long)n;
}

static int cmd_close(struct session *s, int expunge)
{
	struct err e;

	if (!at_end(s))
		return reader_failed(s);
	if (expunge && !s->box.readonly) {
		size_t *v = malloc((s->box.n ? s->box.n : 1) * sizeof *v), n = 0;

		for (size_t i = 0; v != NULL && i < s->box.n; i++)
			if ((s->box.m[i].flags & IMAP_F_DELETED) && !s->box.m[i].gone)
				v[n++] = i;
		if (v == NULL || box_expunge(&s->box, v, n, &e) < 0)
			log_line(s, "close error=\"%s\"", v ? e.msg : "out of memory");
		free(v);
	}
	unselect(s);
	tagged(s, "OK", expunge ? "Closed" : "Unselected");
	return 0;
}

static int cmd_expunge(struct session *s)
{
	size_t *v = NULL, n = 0;
	long nset = -1;
	struct err e;

	if (s->uid) {
		if (imap_next(&s->r, IMAP_WILDCARDS) != IMAP_ATOM ||
		    (nset = set_arg(s, s->r.text, &v)) < 0)
			return reader_failed(s);
	}
	if (!at_end(s)) {
		free(v);
		return reader_failed(s);
	}
	if (s->box.readonly) {
		free(v);
		tagged(s, "NO", "[READ-ONLY] The mailbox is read-only");
		return 0;
	}
	if (v == NULL && (v = malloc((s->box.n ? s->box.n : 1) * sizeof *v)) == NULL)
		return -1;
	if (nset < 0)
		for (size_t i = 0; i < s->box.n; i++)
			v[n++] = i;
	else
		n = (size_t)nset;
	size_t k = 0;

	for (size_t j = 0; j < n; j++)
		if ((s->box.m[v[j]].flags & IMAP_F_DELETED) && !s->box.m[v[j]].gone)
			v[k++] = v[j];
	if (box_expunge(&s->box, v, k, &e) < 0) {
		log_line(s, "expunge error=\"%s\"", e.msg);
		report_expunges(s);
		free(v);
		tagged(s, "NO", "[SERVERBUG] Expunge failed");
		return 0;
	}
	free(v);
	report_expunges(s);
	tagged(s, "OK", "Expunge completed");
	return 0;
}

static int cmd_store(struct session *s)
{
	char kwn[BOX_KEYWORDS_MAX][BOX_KEYWORD_LEN + 1];
	size_t *v, nkw;
	long n;
	int mode = 0, silent = 0, expunged = 0, bare;
	unsigned flags;
	uint32_t kw = 0;
	struct strbuf b = { 0 };
	struct err e;
	const char *item;

	s->no_expunge = !s->uid;
	if (imap_next(&s->r, IMAP_WILDCARDS) != IMAP_ATOM || (n = set_arg(s, s->r.text, &v)) < 0)
		return reader_failed(s);
	if (imap_next(&s->r, 0) != IMAP_ATOM)
		goto syntax;
	item = s->r.text;
	if (*item == '+' || *item == '-')
		mode = *item++;
	if (strncasecmp(item, "FLAGS", 5) != 0 ||
	    (item[5] != '\0' && strcasecmp(item + 5, ".SILENT") != 0))
		goto syntax;
	silent = item[5] != '\0';
	bare = imap_next(&s->r, 0) != IMAP_LPAREN;
	if (bare) {
		/* flags without parentheses: step back over the first one */
		s->r.pos -= s->r.textlen;
		if (s->r.textlen == 0)
			goto syntax;
	}
	if (flag_args(s, bare, &flags, kwn, BOX_KEYWORDS_MAX, &nkw) < 0 || (!bare && !at_end(s)))
		goto syntax;
	if (s->box.readonly) {
		free(v);
		tagged(s, "NO", "[READ-ONLY] The mailbox is read-only");
		return 0;
	}
	size_t known = s->box.nkw;

	for (size_t k = 0; k < nkw; k++) {
		int i = box_keyword(&s->box, kwn[k], 1, &e);

		if (i < 0) {
			free(v);
			tagged(s, "NO", "[LIMIT] No room for more keywords in this mailbox");
			return 0;
		}
		kw |= 1u << i;
	}
	if (s->box.nkw != known)
		announce_flags(s);   /* FLAGS and PERMANENTFLAGS name the new ones */
	for (long j = 0; j < n; j++) {
		struct box_msg *m = &s->box.m[v[j]];
		unsigned nf = mode == '+' ? m->flags | flags : mode == '-' ? m->flags & ~flags : flags;
		uint32_t nk = mode == '+' ? m->keywords | kw : mode == '-' ? m->keywords & ~kw : kw;
		int r = 0;

		nf = (nf & ~IMAP_F_RECENT) | (m->flags & IMAP_F_RECENT);
		if (nf != m->flags || nk != m->keywords)
			r = box_set_flags(&s->box, v[j], nf, nk, &e);
		if (r != 0) {
			if (r < 0)
				log_line(s, "store error=\"%s\"", e.msg);
			expunged = 1;
			continue;
		}
		if (silent)
			continue;
		sb_addf(&b, "* %zu FETCH (", v[j] + 1);
		if (s->uid)
			sb_addf(&b, "UID %lu ", (unsigned long)m->uid);
		sb_adds(&b, "FLAGS ");
		flag_list(s, &b, m->flags, m->keywords);
		sb_addc(&b, ')');
		send_buf(s, &b);
	}
	sb_free(&b);
	free(v);
	if (expunged)
		tagged(s, "NO", "[EXPUNGEISSUED] Some messages were expunged meanwhile");
	else
		tagged(s, "OK", "Store completed");
	return 0;
syntax:
	free(v);
	if (s->r.why[0] == '\0')
		snprintf(s->r.why, sizeof s->r.why, "bad STORE arguments");
	return reader_failed(s);
}

static int cmd_copy(struct session *s, int move)
{
	char dest[BOX_NAME_MAX + 1];
	size_t *v;
	uint32_t *uids, *src, validity = 0;
	long n;
	int rc, complete = 1;
	struct err e;
	struct strbuf b = { 0 };

	if (imap_next(&s->r, IMAP_WILDCARDS) != IMAP_ATOM || (n = set_arg(s, s->r.text, &v)) < 0)
		return reader_failed(s);
	if ((rc = mailbox_arg(s, dest, sizeof dest, 0)) == -1 || !at_end(s)) {
		free(v);
		return reader_failed(s);
	}
	if (rc == -2 || (move && s->box.readonly)) {
		free(v);
		tagged(s, "NO", rc == -2 ? "[CANNOT] Bad mailbox name" : "[READ-ONLY] The mailbox is read-only");
		return 0;
	}
	uids = calloc((size_t)n + 1, sizeof *uids);
	src = calloc((size_t)n + 1, sizeof *src);
	if (uids == NULL || src == NULL) {
		free(v);
		free(uids);
		free(src);
		return -1;
	}
	if (n > 0 && box_copy(&s->box, v, (size_t)n, dest, move, uids, &validity, &e) < 0) {
		if (e.code == EX_NOINPUT && strcmp(e.msg, "no such mailbox") == 0)
			tagged(s, "NO", "[TRYCREATE] No such mailbox");
		else if (e.code == EX_NOINPUT)
			tagged(s, "NO", "[EXPUNGEISSUED] Some messages were expunged meanwhile");
		else if (e.code == EX_USAGE)
			tagged(s, "NO", "[CANNOT] Bad mailbox name");
		else {
			log_line(s, "%s=%s error=\"%s\"", move ? "move" : "copy", dest, e.msg);
			tagged(s, "NO", "[SERVERBUG] The copy failed");
		}
		if (move)
			report_expunges(s);
		goto out;
	}
	for (long k = 0; k < n; k++) {
		src[k] = s->box.m[v[k]].uid;
		complete &= uids[k] != 0;
	}
	if (n > 0 && complete && validity != 0) {
		sb_addf(&b, "OK [COPYUID %lu ", (unsigned long)validity);
		imap_set_format(&b, src, (size_t)n);
		sb_addc(&b, ' ');
		imap_set_format(&b, uids, (size_t)n);
		sb_addc(&b, ']');
	}
	/* sets of thousands of UIDs: the line is built whole, never cut */
	if (move) {
		if (b.len > 0) {
			struct strbuf line = { 0 };

			sb_adds(&line, "* ");
			sb_add(&line, b.s, b.len);
			sb_adds(&line, " Moved");
			send_buf(s, &line);
			sb_free(&line);
		}
		report_expunges(s);
		tagged(s, "OK", "Move completed");
	} else if (b.len > 0) {
		struct strbuf line = { 0 };

		report_changes(s);
		sb_addf(&line, "%s ", s->tag);
		sb_add(&line, b.s, b.len);
		sb_adds(&line, " Copy completed");
		send_buf(s, &line);
		sb_free(&line);
	} else {
		tagged(s, "OK", "Copy completed");
	}
out:
	sb_free(&b);
	free(v);
	free(uids);
	free(src);
	return 0;
}

/* ---- FETCH ---- */

#define PART_DEPTH_MAX 32
#define FETCH_ITEMS_MAX 64
#define FIELDS_MAX 100

enum fetch_kind {
	F_UID, F_FLAGS, F_INTERNALDATE, F_SIZE, F_ENVELOPE, F_BODY, F_BODYSTRUCTURE,
	F_SECTION, F_BINARY, F_BINARY_SIZE
};

struct fetch_item {
	enum fetch_kind kind;
	int sets_seen;                /* BODY[], RFC822, RFC822.TEXT, BINARY[] */
	uint32_t part[PART_DEPTH_MAX];
	size_t depth;
	enum mime_what what;
	char **fields;
	size_t nfields;
	int partial;
	uint64_t origin, count;
	struct strbuf label;          /* the name in the response */
};

struct fetch {
	struct fetch_item it[FETCH_ITEMS_MAX];
	size_t n;
	int flags_asked;
};

static void fetch_free(struct fetch *f)
{
	for (size_t i = 0; i < f->n; i++) {
		for (size_t k = 0; k < f->it[i].nfields; k++)
			free(f->it[i].fields[k]);
		free(f->it[i].fields);
		sb_free(&f->it[i].label);
	}
}

static struct fetch_item *fetch_add(struct fetch *f, enum fetch_kind kind, const char *label)
{
	struct fetch_item *it;

	if (f->n == FETCH_ITEMS_MAX)
		return NULL;
	it = &f->it[f->n++];
	memset(it, 0, sizeof *it);
	it->kind = kind;
	sb_adds(&it->label, label);
	if (kind == F_FLAGS)
		f->flags_asked = 1;
	return it;
}

/* The section spec after "[": part numbers and a keyword, then for
 * HEADER.FIELDS a list, then "]" and maybe "<origin.count>". text is
 * what followed "[" in the atom. */
static int section_args(struct session *s, struct fetch_item *it, const char *text, int binary)
{
	const char *p = text;
	char upper[64];
	size_t k;

	while (*p >= '1' && *p <= '9') {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		if (it->depth == PART_DEPTH_MAX || v > UINT32_MAX)
			return -1;
		it->part[it->depth++] = (uint32_t)v;
		p = end;
		if (*p != '.')
			break;
		p++;
	}
	for (k = 0; p[k] != '\0' && k + 1 < sizeof upper; k++)
		upper[k] = (char)(p[k] >= 'a' && p[k] <= 'z' ? p[k] - 32 : p[k]);
	upper[k] = '\0';
	if (p[k] != '\0')
		return -1;
	if (binary && upper[0] != '\0')
		return -1;
	if (it->depth > 0 && p > text && p[-1] == '.' && upper[0] == '\0')
		return -1;   /* "1." */
	if (upper[0] == '\0')
		it->what = MIME_ALL;
	else if (strcmp(upper, "HEADER") == 0)
		it->what = MIME_HEADER;
	else if (strcmp(upper, "HEADER.FIELDS") == 0)
		it->what = MIME_HEADER_FIELDS;
	else if (strcmp(upper, "HEADER.FIELDS.NOT") == 0)
		it->what = MIME_HEADER_FIELDS_NOT;
	else if (strcmp(upper, "TEXT") == 0)
		it->what = MIME_TEXT;
	else if (strcmp(upper, "MIME") == 0 && it->depth > 0)
		it->what = MIME_MIME;
	else
		return -1;
	/* the label: BODY[1.2.HEADER.FIELDS (A B)] */
	sb_add(&it->label, text, (size_t)(p - text));
	sb_adds(&it->label, upper);
	if (it->what == MIME_HEADER_FIELDS || it->what == MIME_HEADER_FIELDS_NOT) {
		enum imap_tok t;

		if (imap_next(&s->r, 0) != IMAP_LPAREN)
			return -1;
		sb_adds(&it->label, " (");
		while ((t = imap_next(&s->r, IMAP_ASTRING)) != IMAP_RPAREN) {
			char **nf;

			if (t == IMAP_LITERAL && imap_literal_text(&s->r, 200) < 0)
				return -1;
			if ((t != IMAP_ATOM && t != IMAP_QUOTED && t != IMAP_LITERAL) ||
			    it->nfields == FIELDS_MAX || s->r.textlen == 0 ||
			    strpbrk(s->r.text, " :\t\r\n") != NULL)
				return -1;
			if ((nf = realloc(it->fields, (it->nfields + 1) * sizeof *nf)) == NULL)
				return -1;
			it->fields = nf;
			for (char *c = s->r.text; *c; c++)
				if (*c >= 'a' && *c <= 'z')
					*c = (char)(*c - 32);
			if ((nf[it->nfields] = strdup(s->r.text)) == NULL)
				return -1;
			sb_adds(&it->label, it->nfields++ ? " " : "");
			if (t == IMAP_ATOM)
				sb_adds(&it->label, s->r.text);
			else
				imap_string(&it->label, s->r.text, s->r.textlen);
		}
		if (it->nfields == 0)
			return -1;
		sb_addc(&it->label, ')');
	}
	if (imap_next(&s->r, 0) != IMAP_RBRACKET)
		return -1;
	sb_addc(&it->label, ']');
	/* "<origin.count>" right after the "]" */
	if (s->r.pos < s->r.len && s->r.line[s->r.pos] == '<') {
		unsigned long long o, c;
		int used = 0;

		if (imap_next(&s->r, 0) != IMAP_ATOM ||
		    sscanf(s->r.text, "<%llu.%llu>%n", &o, &c, &used) != 2 ||
		    s->r.text[used] != '\0' || c == 0 || strchr(s->r.text, '-') != NULL)
			return -1;
		it->partial = 1;
		it->origin = o;
		it->count = c;
		if (!binary)   /* BINARY's reply has no origin (RFC 3516 grammar) */
			sb_addf(&it->label, "<%llu>", o);
	}
	return 0;
}

/* One fetch attribute from the atom in s->r.text. */
static int fetch_attr(struct session *s, struct fetch *f)
{
	char name[64], *br;
	const char *text = s->r.text;
	struct fetch_item *it;

	br = strchr(text, '[');
	snprintf(name, sizeof name, "%.*s", (int)(br ? (size_t)(br - text) : strlen(text)), text);
	for (char *c = name; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 32);
	if (br == NULL) {
		static const struct { const char *name; enum fetch_kind kind; } simple[] = {
			{ "UID", F_UID }, { "FLAGS", F_FLAGS }, { "INTERNALDATE", F_INTERNALDATE },
			{ "RFC822.SIZE", F_SIZE }, { "ENVELOPE", F_ENVELOPE }, { "BODY", F_BODY },
			{ "BODYSTRUCTURE", F_BODYSTRUCTURE },
		};
		for (size_t i = 0; i < sizeof simple / sizeof *simple; i++)
			if (strcmp(name, simple[i].name) == 0)
				return fetch_add(f, simple[i].kind, name) ? 0 : -1;
		/* RFC 3501's RFC822 items: sections under another name */
		if (strcmp(name, "RFC822") == 0 || strcmp(name, "RFC822.TEXT") == 0 ||
		    strcmp(name, "RFC822.HEADER") == 0) {
			if ((it = fetch_add(f, F_SECTION, name)) == NULL)
				return -1;
			it->what = name[6] == '\0' ? MIME_ALL : name[7] == 'T' ? MIME_TEXT : MIME_HEADER;
			it->sets_seen = it->what != MIME_HEADER;
			return 0;
		}
		return -1;
	}
	if (strcmp(name, "BODY") == 0 || strcmp(name, "BODY.PEEK") == 0) {
		if ((it = fetch_add(f, F_SECTION, "BODY[")) == NULL)
			return -1;
		it->sets_seen = name[4] == '\0';
		return section_args(s, it, br + 1, 0);
	}
	if (strcmp(name, "BINARY") == 0 || strcmp(name, "BINARY.PEEK") == 0 ||
	    strcmp(name, "BINARY.SIZE") == 0) {
		int size = strcmp(name, "BINARY.SIZE") == 0;

		if ((it = fetch_add(f, size ? F_BINARY_SIZE : F_BINARY,
		                    size ? "BINARY.SIZE[" : "BINARY[")) == NULL)
			return -1;
		it->sets_seen = strcmp(name, "BINARY") == 0;
		if (section_args(s, it, br + 1, 1) < 0 || (size && it->partial))
			return -1;
		return 0;
	}
	return -1;
}

static int fetch_args(struct session *s, struct fetch *f)
{
	enum imap_tok t = imap_next(&s->r, 0);

	memset(f, 0, sizeof *f);
	if (t == IMAP_ATOM) {
		const char *m = s->r.text;

		/* the macros */
		if (strcasecmp(m, "ALL") == 0 || strcasecmp(m, "FAST") == 0 || strcasecmp(m, "FULL") == 0) {
			int full = strcasecmp(m, "FULL") == 0, fast = strcasecmp(m, "FAST") == 0;

			fetch_add(f, F_FLAGS, "FLAGS");
			fetch_add(f, F_INTERNALDATE, "INTERNALDATE");
			fetch_add(f, F_SIZE, "RFC822.SIZE");
			if (!fast)
				fetch_add(f, F_ENVELOPE, "ENVELOPE");
			if (full)
				fetch_add(f, F_BODY, "BODY");
		} else if (fetch_attr(s, f) < 0) {
			return -1;
		}
	} else if (t == IMAP_LPAREN) {
		while ((t = imap_next(&s->r, 0)) == IMAP_ATOM)
			if (fetch_attr(s, f) < 0)
				return -1;
		if (t != IMAP_RPAREN || f->n == 0)
			return -1;
	} else {
		return -1;
	}
	if (s->uid && !(f->n > 0 && f->it[0].kind == F_UID)) {
		int has = 0;

		for (size_t i = 0; i < f->n; i++)
			has |= f->it[i].kind == F_UID;
		if (!has) {
			/* UID FETCH answers with the UID first */
			if (f->n == FETCH_ITEMS_MAX)
				return -1;
			memmove(&f->it[1], &f->it[0], f->n * sizeof *f->it);
			f->n++;
			memset(&f->it[0], 0, sizeof f->it[0]);
			f->it[0].kind = F_UID;
			sb_adds(&f->it[0].label, "UID");
		}
	}
	return 0;
}

static struct mime_msg *message(struct session *s, size_t i, int header_only, struct err *e)
{
	int fd;

	if (s->mm != NULL && s->mm_index == i && (!s->mm_header_only || header_only))
		return s->mm;
	if (s->mm != NULL) {
		mime_close(s->mm);
		s->mm = NULL;
	}
	if ((fd = box_msg_open(&s->box, i, e)) < 0)
		return NULL;
	s->mm = mime_open(fd, header_only ? MIME_HEADER_ONLY : 0, e);
	close(fd);
	s->mm_index = i;
	s->mm_header_only = header_only;
	return s->mm;
}

static void message_done(struct session *s)
{
	if (s->mm != NULL) {
		mime_close(s->mm);
		s->mm = NULL;
	}
}

static int net_out(void *ctx, const void *buf, size_t n)
{
	struct net *net = ctx;

	net_write(net, buf, n);
	return net->error ? -1 : 0;
}

static void internaldate(struct strbuf *b, time_t t)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm;
	long off;

	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	sb_addf(b, "\"%02d-%.3s-%04d %02d:%02d:%02d %c%02ld%02ld\"", tm.tm_mday,
	        months + 3 * tm.tm_mon, tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	        off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

/* Send a literal of piece p, cut to the item's partial range. */
static int send_piece(struct session *s, struct strbuf *b, const struct fetch_item *it,
                      const struct mime_piece *p, struct err *e)
{
	uint64_t from = 0, count = p->wire;

	if (it->partial) {
		from = it->origin < p->wire ? it->origin : p->wire;
		count = p->wire - from < it->count ? p->wire - from : it->count;
	}
	sb_addf(b, "{%llu}\r\n", (unsigned long long)count);
	net_write(s->n, b->s, b->len);
	sb_reset(b);
	if (count == 0)
		return 0;
	return mime_send(s->mm, p, from, count, net_out, s->n, e);
}

/* Send decoded content (BINARY) from fd as a literal, or literal8 when
 * it holds a NUL (RFC 3516 4.2), streamed, cut to the partial range. */
static int send_fd(struct session *s, struct strbuf *b, const struct fetch_item *it, int fd,
                   uint64_t size)
{
	char buf[16384];
	uint64_t from = 0, count = size, done = 0;
	int nul = 0;

	if (it->partial) {
		from = it->origin < size ? it->origin : size;
		count = size - from < it->count ? size - from : it->count;
	}
	for (uint64_t off = from; off < from + count && !nul; ) {
		ssize_t r = pread(fd, buf, sizeof buf < from + count - off ? sizeof buf : from + count - off,
		                  (off_t)off);

		if (r <= 0)
			return -1;
		nul = memchr(buf, '\0', (size_t)r) != NULL;
		off += (uint64_t)r;
	}
	sb_addf(b, "%s{%llu}\r\n", nul ? "~" : "", (unsigned long long)count);
	net_write(s->n, b->s, b->len);
	sb_reset(b);
	while (done < count) {
		ssize_t r = pread(fd, buf, sizeof buf < count - done ? sizeof buf : count - done,
		                  (off_t)(from + done));

		if (r <= 0)
			return -1;
		net_write(s->n, buf, (size_t)r);
		if (s->n->error)
			return -1;
		done += (uint64_t)r;
	}
	return 0;
}

/* Everything asked of message i. Returns 0; 1 when it has gone; -1 when
 * the connection failed half way (the FETCH line is broken: hang up). */
static int fetch_one(struct session *s, struct fetch *f, size_t i)
{
	struct box_msg *m = &s->box.m[i];
	struct strbuf b = { 0 }, v = { 0 };
	struct err e;
	int first = 1, set_seen = 0, rc = 0, need_file = 0, header_only = 1;
	const char *cached[CACHE_KINDS] = { NULL };
	size_t cached_len[CACHE_KINDS];

	if (m->gone)
		return 1;
	for (size_t k = 0; k < f->n; k++) {
		enum fetch_kind kind = f->it[k].kind;
		int ck = kind == F_ENVELOPE ? CACHE_ENVELOPE : kind == F_BODY ? CACHE_BODY :
		         kind == F_BODYSTRUCTURE ? CACHE_BODYSTRUCTURE : -1;

		set_seen |= f->it[k].sets_seen;
		if (ck >= 0 && cached[ck] == NULL)
			cached[ck] = cache_get(&s->cache, (enum cache_kind)ck, m->uid, &cached_len[ck]);
		if ((ck >= 0 && cached[ck] == NULL) || kind >= F_SECTION) {
			need_file = 1;
			header_only &= kind == F_ENVELOPE;
		}
	}
	if (need_file && message(s, i, header_only, &e) == NULL)
		return e.code == EX_NOINPUT ? 1 : (log_line(s, "fetch error=\"%s\"", e.msg), 1);
	if (set_seen && !s->box.readonly && !(m->flags & IMAP_F_SEEN)) {
		if (box_set_flags(&s->box, i, m->flags | IMAP_F_SEEN, m->keywords, &e) != 0)
			return 1;
		m = &s->box.m[i];
	} else {
		set_seen = 0;
	}
	sb_addf(&b, "* %zu FETCH (", i + 1);
	for (size_t k = 0; k < f->n && rc == 0; k++) {
		struct fetch_item *it = &f->it[k];

		sb_adds(&b, first ? "" : " ");
		first = 0;
		sb_add(&b, it->label.s, it->label.len);
		sb_addc(&b, ' ');
		switch (it->kind) {
		case F_UID:
			sb_addf(&b, "%lu", (unsigned long)m->uid);
			break;
		case F_FLAGS:
			flag_list(s, &b, m->flags, m->keywords);
			break;
		case F_INTERNALDATE: {
			time_t t;

			if (box_internal(&s->box, i, &t, &e) < 0)
				t = 0;
			internaldate(&b, t);
			break;
		}
		case F_SIZE: {
			uint64_t size;

			if (box_size(&s->box, i, &size, &e) < 0) {
				sb_free(&b);
				return 1;
			}
			sb_addf(&b, "%llu", (unsigned long long)size);
			break;
		}
		case F_ENVELOPE:
		case F_BODY:
		case F_BODYSTRUCTURE: {
			enum cache_kind ck = it->kind == F_ENVELOPE ? CACHE_ENVELOPE :
			                     it->kind == F_BODY ? CACHE_BODY : CACHE_BODYSTRUCTURE;

			if (cached[ck] != NULL) {
				sb_add(&b, cached[ck], cached_len[ck]);
				break;
			}
			sb_reset(&v);
			if (ck == CACHE_ENVELOPE)
				mime_envelope(s->mm, &v);
			else
				mime_bodystructure(s->mm, ck == CACHE_BODYSTRUCTURE, &v);
			if (!v.failed) {
				sb_add(&b, v.s, v.len);
				cache_put(&s->cache, ck, m->uid, v.s, v.len);
			} else {
				b.failed = 1;
			}
			break;
		}
		case F_SECTION: {
			struct mime_section sec = {
				.part = it->part, .depth = it->depth, .what = it->what,
				.fields = (const char *const *)it->fields, .nfields = it->nfields,
			};
			struct mime_piece p;

			if (mime_section(s->mm, &sec, &p, &e) < 0) {
				log_line(s, "fetch error=\"%s\"", e.msg);
				sb_adds(&b, "NIL");
				break;
			}
			rc = send_piece(s, &b, it, &p, &e);
			free(p.text);
			break;
		}
		case F_BINARY:
		case F_BINARY_SIZE: {
			uint64_t size;
			int fd, r;

			if (it->depth == 0) {
				/* BINARY[]: the whole message, which has no encoding */
				struct mime_section sec = { .what = MIME_ALL };
				struct mime_piece p;

				if (mime_section(s->mm, &sec, &p, &e) < 0) {
					sb_free(&b);
					return 1;
				}
				if (it->kind == F_BINARY_SIZE)
					sb_addf(&b, "%llu", (unsigned long long)p.wire);
				else
					rc = send_piece(s, &b, it, &p, &e);
				free(p.text);
				break;
			}
			if ((r = mime_binary(s->mm, it->part, it->depth, &fd, &size, &e)) == -2) {
				sb_free(&b);
				return 2;   /* UNKNOWN-CTE: no FETCH line for this message */
			}
			if (r < 0) {
				log_line(s, "fetch error=\"%s\"", e.msg);
				sb_adds(&b, "NIL");
				break;
			}
			if (it->kind == F_BINARY_SIZE) {
				sb_addf(&b, "%llu", (unsigned long long)size);
			} else {
				rc = send_fd(s, &b, it, fd, size);
			}
			close(fd);
			break;
		}
		}
	}
	if (set_seen && !f->flags_asked) {
		sb_adds(&b, " FLAGS ");
		flag_list(s, &b, m->flags, m->keywords);
	}
	sb_addc(&b, ')');
	if (rc == 0)
		send_buf(s, &b);
	sb_free(&b);
	sb_free(&v);
	return rc < 0 ? -1 : 0;
}

static int cmd_fetch(struct session *s)
{
	struct fetch f;
	size_t *v;
	long n;
	int gone = 0, cte = 0;

	s->no_expunge = !s->uid;
	if (imap_next(&s->r, IMAP_WILDCARDS) != IMAP_ATOM || (n = set_arg(s, s->r.text, &v)) < 0)
		return reader_failed(s);
	if (fetch_args(s, &f) < 0 || !at_end(s)) {
		fetch_free(&f);
		free(v);
		if (s->r.why[0] == '\0')
			snprintf(s->r.why, sizeof s->r.why, "bad FETCH attributes");
		return reader_failed(s);
	}
	cache_refresh(&s->cache);
	for (long k = 0; k < n; k++) {
		int r = fetch_one(s, &f, v[k]);

		message_done(s);
		if (r < 0) {
			fetch_free(&f);
			free(v);
			return -1;
		}
		gone |= r == 1;
		cte |= r == 2;
		if (s->n->error) {
			fetch_free(&f);
			free(v);
			return -1;
		}
	}
	cache_flush(&s->cache);
	fetch_free(&f);
	free(v);
	if (cte)
		tagged(s, "NO", "[UNKNOWN-CTE] Cannot decode a part's content transfer encoding");
	else if (gone)
		tagged(s, "NO", "[EXPUNGEISSUED] Some messages were expunged meanwhile");
	else
		tagged(s, "OK", "Fetch completed");
	return 0;
}

/* ---- SEARCH ---- */

struct search_env {
	struct session *s;
	size_t i;
};

static struct mime_msg *search_open(void *ctx, int header_only, struct err *e)
{
	struct search_env *env = ctx;

	return message(env->s, env->i, header_only, e);
}

static int search_keyword(void *ctx, const char *name)
{
	struct session *s = ctx;
	struct err e;

	return box_keyword(&s->box, name, 0, &e);
}

enum { RET_MIN = 1, RET_MAX = 2, RET_COUNT = 4, RET_ALL = 8 };

static int cmd_search(struct session *s)
{
	struct search_ctx c = { .keyword = search_keyword, .ctx = s };
	struct search_key *k;
	const char *why = NULL;
	int badcharset = 0, ret = 0, esearch = s->rev2, failed = 0;
	uint32_t *hits;
	size_t nhits = 0;
	struct strbuf b = { 0 };
	struct tm tm;
	time_t now = time(NULL);
	size_t save_pos = s->r.pos;

	s->no_expunge = !s->uid;
	/* RETURN (...) first: ESEARCH (RFC 4731) */
	if (imap_next(&s->r, 0) == IMAP_ATOM && strcasecmp(s->r.text, "RETURN") == 0) {
		enum imap_tok t;

		esearch = 1;
		if (imap_next(&s->r, 0) != IMAP_LPAREN)
			return reader_failed(s);
		while ((t = imap_next(&s->r, 0)) == IMAP_ATOM) {
			if (strcasecmp(s->r.text, "MIN") == 0)
				ret |= RET_MIN;
			else if (strcasecmp(s->r.text, "MAX") == 0)
				ret |= RET_MAX;
			else if (strcasecmp(s->r.text, "COUNT") == 0)
				ret |= RET_COUNT;
			else if (strcasecmp(s->r.text, "ALL") == 0)
				ret |= RET_ALL;
			else
				return reader_failed(s);
		}
		if (t != IMAP_RPAREN)
			return reader_failed(s);
		if (ret == 0)
			ret = RET_ALL;
	} else {
		s->r.pos = save_pos;
		ret = RET_ALL;
	}
	localtime_r(&now, &tm);
	c.tz = (int)(tm.tm_gmtoff / 60);
	c.max_seq = (uint32_t)s->box.n;
	c.max_uid = s->box.n ? s->box.m[s->box.n - 1].uid : 0;
	if ((k = search_parse(&s->r, &c, &why, &badcharset)) == NULL) {
		if (s->r.gone)
			return -1;
		if (badcharset) {
			if (imap_skip(&s->r) < 0)
				return -1;
			tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
			return 0;
		}
		snprintf(s->r.why, sizeof s->r.why, "%s", why ? why : "bad search keys");
		return reader_failed(s);
	}
	if ((hits = malloc((s->box.n ? s->box.n : 1) * sizeof *hits)) == NULL) {
		search_free(k);
		return -1;
	}
	cache_refresh(&s->cache);
	for (size_t i = 0; i < s->box.n; i++) {
		struct box_msg *m = &s->box.m[i];
		struct search_env env = { s, i };
		struct search_msg sm = {
			.seq = (uint32_t)(i + 1), .uid = m->uid, .flags = m->flags,
			.keywords = m->keywords, .open = search_open, .ctx = &env,
		};
		struct err e;
		int r;

		if (m->gone)
			continue;
		sm.envelope = cache_get(&s->cache, CACHE_ENVELOPE, m->uid, &sm.envelope_len);
		if (box_size(&s->box, i, &sm.size, &e) < 0 || box_internal(&s->box, i, &sm.internal, &e) < 0) {
			failed = 1;
			continue;
		}
		r = search_match(k, &c, &sm, &e);
		message_done(s);
		if (r < 0)
			failed = 1;
		else if (r > 0)
			hits[nhits++] = s->uid ? m->uid : (uint32_t)(i + 1);
	}
	search_free(k);
	if (esearch) {
		sb_addf(&b, "* ESEARCH (TAG ");
		imap_string(&b, s->tag, strlen(s->tag));
		sb_addc(&b, ')');
		if (s->uid)
			sb_adds(&b, " UID");
		if ((ret & RET_MIN) && nhits)
			sb_addf(&b, " MIN %lu", (unsigned long)hits[0]);
		if ((ret & RET_MAX) && nhits)
			sb_addf(&b, " MAX %lu", (unsigned long)hits[nhits - 1]);
		if (ret & RET_COUNT)
			sb_addf(&b, " COUNT %zu", nhits);
		if ((ret & RET_ALL) && nhits) {
			sb_adds(&b, " ALL ");
			imap_set_format(&b, hits, nhits);
		}
	} else {
		sb_adds(&b, "* SEARCH");
		for (size_t i = 0; i < nhits; i++)
			sb_addf(&b, " %lu", (unsigned long)hits[i]);
	}
	send_buf(s, &b);
	sb_free(&b);
	free(hits);
	if (failed)
		tagged(s, "NO", "[EXPUNGEISSUED] Some messages could not be searched");
	else
		tagged(s, "OK", "Search completed");
	return 0;
}

/* ---- IDLE ---- */

static int cmd_idle(struct session *s)
{
	char line[64], dir[PATH_MAX + 8];
	int in = -1;
	time_t until = time(NULL) + s->c->timeout;

	if (!at_end(s))
		return reader_failed(s);
	/* inotify on the folder: new mail, flags and expunges wake us */
	if (s->state == SELECTED && (in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) >= 0) {
		static const char *const subs[] = { "new", "cur", "." };

		for (size_t k = 0; k < 3; k++)
			if (snprintf(dir, sizeof dir, "%s/%s", s->box.dir, subs[k]) < (int)sizeof dir)
				(void)inotify_add_watch(in, dir, k == 2 ? IN_MOVED_TO | IN_CLOSE_WRITE :
				                        IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE);
	}
	out(s, "+ idling");
	for (;;) {
		struct pollfd p[2] = { { .fd = s->n->rfd, .events = POLLIN }, { .fd = in, .events = POLLIN } };
		time_t now = time(NULL);
		int r;

		report_changes(s);
		if (net_flush(s->n) < 0)
			break;
		if (net_pending(s->n) > 0 || (s->n->t.pending && s->n->t.pending(s->n->t.ctx) > 0))
			goto read_line;
		if (now >= until) {
			out(s, "* BYE Idle for too long");
			net_flush(s->n);
			log_line(s, "closed=timeout");
			break;
		}
		r = poll(p, in >= 0 ? 2 : 1, (int)((until - now) * 1000 > 30000 ? 30000 : (until - now) * 1000));
		if (r < 0 && errno != EINTR)
			break;
		if (in >= 0 && (p[1].revents & POLLIN)) {
			char ev[4096];

			while (read(in, ev, sizeof ev) > 0)
				;
			/* a delivery renames twice in a row: let it finish */
			usleep(20000);
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
read_line:;
		long len = net_getline(s->n, line, sizeof line - 2, NULL, NULL);

		if (in >= 0)
			close(in);
		if (len == -1)
			return -1;
		if (len < 0 || strcasecmp(line, "DONE") != 0)
			return bad(s, "Expected DONE");
		tagged(s, "OK", "Idle completed");
		return 0;
	}
	if (in >= 0)
		close(in);
	return -1;
}

/* ---- the session ---- */

static int cmd_noop(struct session *s)
{
	if (!at_end(s))
		return reader_failed(s);
	tagged(s, "OK", "NOOP completed");
	return 0;
}

static int cmd_logout(struct session *s)
{
	if (!at_end(s))
		return reader_failed(s);
	unselect(s);
	out(s, "* BYE Logging out");
	tagged(s, "OK", "Logout completed");
	s->state = LOGOUT;
	return 0;
}

static int cmd_check(struct session *s)
{
	if (!at_end(s))
		return reader_failed(s);
	tagged(s, "OK", "Check completed");
	return 0;
}

/* The states a command is valid in, as bits. */
#define IN_NOAUTH (1 << NOT_AUTHENTICATED)
#define IN_AUTH (1 << AUTHENTICATED)
#define IN_SELECTED (1 << SELECTED)
#define IN_LOGGED (IN_AUTH | IN_SELECTED)
#define IN_ANY (IN_NOAUTH | IN_LOGGED)

static const struct command {
	const char *name;
	int states;
	int uid;                                   /* may follow "UID" */
	int (*run)(struct session *s);
	int (*run_arg)(struct session *s, int arg); /* or this, with arg */
	int arg;
} commands[] = {
	{ "CAPABILITY", IN_ANY, 0, cmd_capability, NULL, 0 },
	{ "NOOP", IN_ANY, 0, cmd_noop, NULL, 0 },
	{ "LOGOUT", IN_ANY, 0, cmd_logout, NULL, 0 },
	{ "ID", IN_ANY, 0, cmd_id, NULL, 0 },
	{ "LOGIN", IN_NOAUTH, 0, cmd_login, NULL, 0 },
	{ "AUTHENTICATE", IN_NOAUTH, 0, cmd_authenticate, NULL, 0 },
	{ "STARTTLS", IN_NOAUTH, 0, cmd_starttls, NULL, 0 },
	{ "ENABLE", IN_AUTH, 0, cmd_enable, NULL, 0 },   /* RFC 5161 3.1 */
	{ "SELECT", IN_LOGGED, 0, NULL, cmd_select, 0 },
	{ "EXAMINE", IN_LOGGED, 0, NULL, cmd_select, 1 },
	{ "CREATE", IN_LOGGED, 0, cmd_create, NULL, 0 },
	{ "DELETE", IN_LOGGED, 0, cmd_delete, NULL, 0 },
	{ "RENAME", IN_LOGGED, 0, cmd_rename, NULL, 0 },
	{ "SUBSCRIBE", IN_LOGGED, 0, NULL, cmd_subscribe, 1 },
	{ "UNSUBSCRIBE", IN_LOGGED, 0, NULL, cmd_subscribe, 0 },
	{ "LIST", IN_LOGGED, 0, NULL, cmd_list, 0 },
	{ "LSUB", IN_LOGGED, 0, NULL, cmd_list, 1 },
	{ "NAMESPACE", IN_LOGGED, 0, cmd_namespace, NULL, 0 },
	{ "STATUS", IN_LOGGED, 0, cmd_status, NULL, 0 },
	{ "APPEND", IN_LOGGED, 0, cmd_append, NULL, 0 },
	{ "IDLE", IN_LOGGED, 0, cmd_idle, NULL, 0 },
	{ "CHECK", IN_SELECTED, 0, cmd_check, NULL, 0 },
	{ "CLOSE", IN_SELECTED, 0, NULL, cmd_close, 1 },
	{ "UNSELECT", IN_SELECTED, 0, NULL, cmd_close, 0 },
	{ "EXPUNGE", IN_SELECTED, 1, cmd_expunge, NULL, 0 },
	{ "FETCH", IN_SELECTED, 1, cmd_fetch, NULL, 0 },
	{ "STORE", IN_SELECTED, 1, cmd_store, NULL, 0 },
	{ "SEARCH", IN_SELECTED, 1, cmd_search, NULL, 0 },
	{ "COPY", IN_SELECTED, 1, NULL, cmd_copy, 0 },
	{ "MOVE", IN_SELECTED, 1, NULL, cmd_copy, 1 },
};

/* Run one command. Returns 0, or -1 to hang up. */
static int command(struct session *s)
{
	const struct command *c = NULL;
	char name[32];
	const char *why;
	enum imap_tok t;

	/* tag = 1*<any ASTRING-CHAR except "+"> */
	t = imap_next(&s->r, IMAP_ASTRING);
	if (t != IMAP_ATOM || strchr(s->r.text, '+') != NULL || s->r.textlen > TAG_MAX) {
		snprintf(s->tag, sizeof s->tag, "*");
		if (imap_skip(&s->r) < 0)
			return -1;
		return bad(s, "Missing or bad tag");
	}
	snprintf(s->tag, sizeof s->tag, "%s", s->r.text);
	if (imap_next(&s->r, 0) != IMAP_ATOM) {
		if (imap_skip(&s->r) < 0)
			return -1;
		return bad(s, "Missing command");
	}
	if (copy_arg(s, name, sizeof name, s->r.text) < 0)
		return reader_failed(s);
	s->uid = 0;
	s->no_expunge = 0;
	if (strcasecmp(name, "UID") == 0) {
		if (imap_next(&s->r, 0) != IMAP_ATOM)
			return reader_failed(s);
		s->uid = 1;
		if (copy_arg(s, name, sizeof name, s->r.text) < 0)
			return reader_failed(s);
	}
	for (size_t i = 0; i < sizeof commands / sizeof *commands && c == NULL; i++)
		if (strcasecmp(name, commands[i].name) == 0)
			c = &commands[i];
	if (c == NULL || (s->uid && !c->uid))
		why = s->uid ? "Unknown UID command" : "Unknown command";
	else if (!(c->states & (1 << s->state)))
		why = s->state == NOT_AUTHENTICATED ? "Log in first" :
		      c->states == IN_NOAUTH ? "Logged in already" :
		      c->states == IN_SELECTED ? "Select a mailbox first" :
		      "Not valid with a mailbox selected";
	else
		return c->run != NULL ? c->run(s) : c->run_arg(s, c->arg);
	return imap_skip(&s->r) < 0 ? -1 : bad(s, why);
}

int imapd_run(struct net *n, struct imapd_config *c)
{
	static struct session s;
	struct strbuf b = { 0 };
	int rc = -1;

	memset(&s, 0, sizeof s);
	s.n = n;
	s.c = c;
	sb_adds(&b, "* OK [CAPABILITY ");
	capabilities(&s, &b);
	sb_adds(&b, "] mail-toolkit IMAP ready");
	send_buf(&s, &b);
	sb_free(&b);
	for (;;) {
		int r;

		if (net_pending(n) == 0 && net_flush(n) < 0)
			break;
		r = imap_begin(&s.r, n);
		if (r == -1) {
			if (n->error == ETIMEDOUT) {
				n->error = 0;   /* the reading timed out; writing may not */
				out(&s, "* BYE Idle for too long");
				net_flush(n);
				log_line(&s, "closed=timeout");
			}
			break;
		}
		snprintf(s.tag, sizeof s.tag, "*");
		if (r == -2) {
			if (bad(&s, s.r.why) < 0)
				break;
			continue;
		}
		if (command(&s) < 0 || s.closing)
			break;
		if (s.state == LOGOUT) {
			rc = 0;
			break;
		}
	}
	net_flush(n);
	message_done(&s);
	unselect(&s);
	log_line(&s, "logout=%s", rc == 0 ? "ok" : "dropped");
	return rc;
}
