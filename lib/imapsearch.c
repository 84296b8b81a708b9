#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "imapfmt.h"
#include "imapsearch.h"

/* A hostile command must not exhaust the stack or memory. The command's
 * own size (IMAP_COMMAND_MAX) bounds memory already; these bound the
 * recursion of parsing, matching and freeing, and the work per message.
 * The depth is generous because clients build long left-nested OR
 * chains ("OR OR OR HEADER Message-ID a ...") from lists of values. */
#define SEARCH_DEPTH_MAX 256
#define SEARCH_KEYS_MAX 10000
#define SEARCH_STRING_MAX 8192

enum kind {
	K_ALL,
	K_FLAGS,       /* (flags & mask) == want */
	K_KEYWORD,     /* keyword kw set == want; kw < 0: never set */
	K_LARGER,
	K_SMALLER,
	K_SEQ,
	K_UID,
	K_BEFORE,      /* INTERNALDATE's day, in the server's zone */
	K_ON,
	K_SINCE,
	K_SENTBEFORE,  /* the Date: field's day, in its own zone */
	K_SENTON,
	K_SENTSINCE,
	K_HEADER,      /* name NULL: any field (half of TEXT) */
	K_BODY,
	K_TEXT,
	K_NOT,
	K_OR,
	K_AND
};

/* What a key costs: nothing beyond the session's data, the header, or
 * the whole message. */
enum cost { C_NONE, C_HEADER, C_BODY };

struct search_key {
	enum kind kind;
	enum cost cost;
	unsigned mask, want;
	int kw;
	uint64_t size;
	long day;
	struct imap_set set;
	char *name, *str;
	struct search_key *a, *b;      /* NOT: a; OR: a, b */
	struct search_key **kids;      /* AND */
	size_t nkids;
};

/* The keys by name; arguments as the grammar in RFC 9051 9 has them. */
enum arg { A_NONE, A_STRING, A_HEADER, A_DATE, A_NUMBER, A_KEYWORD, A_SET, A_NOT, A_OR };

static const struct keydef {
	const char *name;
	enum kind kind;
	enum arg arg;
	unsigned mask, want;
	const char *field;
} keydefs[] = {
	{ "ALL", K_ALL, A_NONE, 0, 0, NULL },
	{ "ANSWERED", K_FLAGS, A_NONE, IMAP_F_ANSWERED, IMAP_F_ANSWERED, NULL },
	{ "BCC", K_HEADER, A_STRING, 0, 0, "Bcc" },
	{ "BEFORE", K_BEFORE, A_DATE, 0, 0, NULL },
	{ "BODY", K_BODY, A_STRING, 0, 0, NULL },
	{ "CC", K_HEADER, A_STRING, 0, 0, "Cc" },
	{ "DELETED", K_FLAGS, A_NONE, IMAP_F_DELETED, IMAP_F_DELETED, NULL },
	{ "DRAFT", K_FLAGS, A_NONE, IMAP_F_DRAFT, IMAP_F_DRAFT, NULL },
	{ "FLAGGED", K_FLAGS, A_NONE, IMAP_F_FLAGGED, IMAP_F_FLAGGED, NULL },
	{ "FROM", K_HEADER, A_STRING, 0, 0, "From" },
	{ "HEADER", K_HEADER, A_HEADER, 0, 0, NULL },
	{ "KEYWORD", K_KEYWORD, A_KEYWORD, 0, 1, NULL },
	{ "LARGER", K_LARGER, A_NUMBER, 0, 0, NULL },
	{ "NEW", K_FLAGS, A_NONE, IMAP_F_RECENT | IMAP_F_SEEN, IMAP_F_RECENT, NULL },
	{ "NOT", K_NOT, A_NOT, 0, 0, NULL },
	{ "OLD", K_FLAGS, A_NONE, IMAP_F_RECENT, 0, NULL },
	{ "ON", K_ON, A_DATE, 0, 0, NULL },
	{ "OR", K_OR, A_OR, 0, 0, NULL },
	{ "RECENT", K_FLAGS, A_NONE, IMAP_F_RECENT, IMAP_F_RECENT, NULL },
	{ "SEEN", K_FLAGS, A_NONE, IMAP_F_SEEN, IMAP_F_SEEN, NULL },
	{ "SENTBEFORE", K_SENTBEFORE, A_DATE, 0, 0, NULL },
	{ "SENTON", K_SENTON, A_DATE, 0, 0, NULL },
	{ "SENTSINCE", K_SENTSINCE, A_DATE, 0, 0, NULL },
	{ "SINCE", K_SINCE, A_DATE, 0, 0, NULL },
	{ "SMALLER", K_SMALLER, A_NUMBER, 0, 0, NULL },
	{ "SUBJECT", K_HEADER, A_STRING, 0, 0, "Subject" },
	{ "TEXT", K_TEXT, A_STRING, 0, 0, NULL },
	{ "TO", K_HEADER, A_STRING, 0, 0, "To" },
	{ "UID", K_UID, A_SET, 0, 0, NULL },
	{ "UNANSWERED", K_FLAGS, A_NONE, IMAP_F_ANSWERED, 0, NULL },
	{ "UNDELETED", K_FLAGS, A_NONE, IMAP_F_DELETED, 0, NULL },
	{ "UNDRAFT", K_FLAGS, A_NONE, IMAP_F_DRAFT, 0, NULL },
	{ "UNFLAGGED", K_FLAGS, A_NONE, IMAP_F_FLAGGED, 0, NULL },
	{ "UNKEYWORD", K_KEYWORD, A_KEYWORD, 0, 0, NULL },
	{ "UNSEEN", K_FLAGS, A_NONE, IMAP_F_SEEN, 0, NULL },
};

struct parser {
	struct imap_reader *r;
	const struct search_ctx *c;
	const char **why;
	size_t nkeys;
	int pending;            /* first was read already, looking for CHARSET */
	enum imap_tok first;
};

static struct search_key *parse_key(struct parser *p, enum imap_tok t, int depth);

void search_free(struct search_key *k)
{
	size_t i;

	if (k == NULL)
		return;
	imap_set_free(&k->set);
	free(k->name);
	free(k->str);
	search_free(k->a);
	search_free(k->b);
	for (i = 0; i < k->nkids; i++)
		search_free(k->kids[i]);
	free(k->kids);
	free(k);
}

static int failed(struct parser *p, const char *why)
{
	*p->why = why;
	return -1;
}

static void *fail(struct parser *p, const char *why)
{
	failed(p, why);
	return NULL;
}

/* A token the grammar has no place for. A literal is refused the way
 * the reader refuses one too large (no "+"; a LITERAL+ read and
 * dropped), so the rest of the command can still be skipped. */
static int bad_token(struct parser *p, enum imap_tok t, const char *why)
{
	if (t == IMAP_ERROR)
		return failed(p, p->r->why);
	if (t == IMAP_LITERAL && imap_literal_text(p->r, 0) < 0 && p->r->gone)
		return failed(p, p->r->why);
	return failed(p, why);
}

static struct search_key *new_key(struct parser *p, enum kind kind)
{
	struct search_key *k;

	if (++p->nkeys > SEARCH_KEYS_MAX)
		return fail(p, "too many search keys");
	if ((k = calloc(1, sizeof *k)) == NULL)
		return fail(p, "out of memory");
	k->kind = kind;
	return k;
}

/* An astring (atom, quoted string or literal), malloc'd. */
static char *astring(struct parser *p)
{
	enum imap_tok t = imap_next(p->r, IMAP_ASTRING);
	char *s;

	switch (t) {
	case IMAP_ATOM:
	case IMAP_QUOTED:
		break;
	case IMAP_LITERAL:
		if (imap_literal_text(p->r, SEARCH_STRING_MAX) < 0)
			return fail(p, p->r->why);
		break;
	default:
		bad_token(p, t, "missing string argument");
		return NULL;
	}
	if ((s = strdup(p->r->text)) == NULL)
		return fail(p, "out of memory");
	return s;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), so dates compare as numbers with no time zone. */
static long civil_days(long y, unsigned m, unsigned d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (long)(m + (m > 2 ? -3 : 9)) + 2) / 5 + (long)d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The calendar day of t in the zone tz minutes east of UTC. */
static long day_of(time_t t, int tz)
{
	long long s = (long long)t + (long long)tz * 60;
	long long d = s / 86400;

	if (s % 86400 < 0)
		d--;
	return (long)d;
}

/* date-text = date-day "-" date-month "-" date-year, day 1 or 2 digits. */
static int parse_date(const char *s, long *day)
{
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned d = 0, m, y = 0, i;

	for (i = 0; i < 2 && *s >= '0' && *s <= '9'; i++)
		d = d * 10 + (unsigned)(*s++ - '0');
	if (i == 0 || *s++ != '-')
		return -1;
	for (m = 0; m < 12; m++)
		if (strncasecmp(s, months[m], 3) == 0)
			break;
	if (m == 12 || s[3] != '-')
		return -1;
	s += 4;
	for (i = 0; i < 4; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		y = y * 10 + (unsigned)(s[i] - '0');
	}
	if (s[4] != '\0' || d < 1 || d > mdays[m])
		return -1;
	if (m == 1 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	*day = civil_days((long)y, m + 1, d);
	return 0;
}

/* The argument of a key, by the key's grammar. */
static int parse_arg(struct parser *p, const struct keydef *kd, struct search_key *k, int depth)
{
	struct imap_reader *r = p->r;
	enum imap_tok t;
	const char *s;

	switch (kd->arg) {
	case A_NONE:
		return 0;
	case A_STRING:
		if (kd->field != NULL && (k->name = strdup(kd->field)) == NULL)
			return failed(p, "out of memory");
		return (k->str = astring(p)) == NULL ? -1 : 0;
	case A_HEADER:
		if ((k->name = astring(p)) == NULL)
			return -1;
		return (k->str = astring(p)) == NULL ? -1 : 0;
	case A_DATE:
		/* date = date-text / DQUOTE date-text DQUOTE: no literal */
		t = imap_next(r, 0);
		if ((t != IMAP_ATOM && t != IMAP_QUOTED) || parse_date(r->text, &k->day) < 0)
			return bad_token(p, t, "bad date (d-Mon-yyyy)");
		return 0;
	case A_NUMBER:
		t = imap_next(r, 0);
		if (t != IMAP_ATOM)
			return bad_token(p, t, "missing number");
		for (s = r->text; *s >= '0' && *s <= '9'; s++) {
			unsigned d = (unsigned)(*s - '0');

			if (k->size > UINT64_MAX / 10 ||
			    (k->size == UINT64_MAX / 10 && d > UINT64_MAX % 10))
				return failed(p, "number out of range");
			k->size = k->size * 10 + d;
		}
		if (*s != '\0' || s == r->text)
			return failed(p, "bad number");
		return 0;
	case A_KEYWORD:
		/* flag-keyword = atom: a "\" system flag is not one */
		t = imap_next(r, 0);
		if (t != IMAP_ATOM || r->text[0] == '\\')
			return bad_token(p, t, "bad keyword");
		k->kw = p->c->keyword != NULL ? p->c->keyword(p->c->ctx, r->text) : -1;
		if (k->kw >= 32)
			k->kw = -1;   /* cannot be set in the mask */
		return 0;
	case A_SET:
		t = imap_next(r, IMAP_WILDCARDS);
		if (t != IMAP_ATOM || imap_set_parse(r->text, &k->set) < 0)
			return bad_token(p, t, "bad UID set");
		return 0;
	case A_NOT:
		k->a = parse_key(p, imap_next(r, IMAP_WILDCARDS), depth + 1);
		if (k->a == NULL)
			return -1;
		k->cost = k->a->cost;
		return 0;
	case A_OR:
		if ((k->a = parse_key(p, imap_next(r, IMAP_WILDCARDS), depth + 1)) == NULL ||
		    (k->b = parse_key(p, imap_next(r, IMAP_WILDCARDS), depth + 1)) == NULL)
			return -1;
		k->cost = k->a->cost > k->b->cost ? k->a->cost : k->b->cost;
		return 0;
	}
	return -1;
}

static enum cost cost_of(enum kind kind)
{
	switch (kind) {
	case K_HEADER: case K_SENTBEFORE: case K_SENTON: case K_SENTSINCE:
		return C_HEADER;
	case K_BODY: case K_TEXT:
		return C_BODY;
	default:
		return C_NONE;
	}
}

/* Add k to and; a nested AND is taken apart so that the cost
 * ordering sees all of its keys. */
static int and_add(struct parser *p, struct search_key *and, struct search_key *k, size_t *cap)
{
	size_t need = and->nkids + (k->kind == K_AND ? k->nkids : 1), i;

	if (need > *cap) {
		size_t ncap = *cap ? *cap : 4;
		struct search_key **kids;

		while (ncap < need)
			ncap *= 2;
		if ((kids = realloc(and->kids, ncap * sizeof *kids)) == NULL) {
			search_free(k);
			return failed(p, "out of memory");
		}
		and->kids = kids;
		*cap = ncap;
	}
	if (k->kind == K_AND) {
		for (i = 0; i < k->nkids; i++)
			and->kids[and->nkids++] = k->kids[i];
		k->nkids = 0;
		search_free(k);
	} else {
		and->kids[and->nkids++] = k;
	}
	return 0;
}

/* Put the AND's keys in order of cost, keeping the client's order
 * otherwise: the file is opened only when the cheap keys all match. */
static int and_order(struct parser *p, struct search_key *and)
{
	struct search_key **sorted;
	size_t i, n = 0;
	int c;

	if ((sorted = malloc(and->nkids * sizeof *sorted)) == NULL)
		return failed(p, "out of memory");
	and->cost = C_NONE;
	for (c = C_NONE; c <= C_BODY; c++)
		for (i = 0; i < and->nkids; i++)
			if (and->kids[i]->cost == (enum cost)c) {
				sorted[n++] = and->kids[i];
				and->cost = (enum cost)c;
			}
	free(and->kids);
	and->kids = sorted;
	return 0;
}

/* Keys up to ")" (paren) or the end of the command, as one AND; a single
 * key stands for itself. */
static struct search_key *parse_list(struct parser *p, int paren, int depth)
{
	struct search_key *and, *k, *one;
	size_t cap = 0;
	enum imap_tok t;

	if ((and = new_key(p, K_AND)) == NULL)
		return NULL;
	for (;;) {
		if (p->pending) {
			t = p->first;
			p->pending = 0;
		} else {
			t = imap_next(p->r, IMAP_WILDCARDS);
		}
		if (t == IMAP_END || t == IMAP_RPAREN) {
			if ((t == IMAP_END) == paren) {
				search_free(and);
				return fail(p, paren ? "missing )" : "unbalanced )");
			}
			break;
		}
		if ((k = parse_key(p, t, depth + 1)) == NULL || and_add(p, and, k, &cap) < 0) {
			search_free(and);
			return NULL;
		}
	}
	if (and->nkids == 0) {
		search_free(and);
		return fail(p, paren ? "empty list" : "missing search key");
	}
	if (and->nkids == 1) {
		one = and->kids[0];
		and->nkids = 0;
		search_free(and);
		return one;
	}
	if (and_order(p, and) < 0) {
		search_free(and);
		return NULL;
	}
	return and;
}

/* One search key, whose first token t has just been read. */
static struct search_key *parse_key(struct parser *p, enum imap_tok t, int depth)
{
	struct imap_reader *r = p->r;
	const struct keydef *kd = NULL;
	struct search_key *k;
	size_t i;

	if (depth > SEARCH_DEPTH_MAX)
		return fail(p, "search keys nested too deep");
	switch (t) {
	case IMAP_LPAREN:
		return parse_list(p, 1, depth);
	case IMAP_ATOM:
		break;
	case IMAP_END:
		return fail(p, "missing search key");
	default:
		bad_token(p, t, "unexpected token where a search key belongs");
		return NULL;
	}
	if ((r->text[0] >= '0' && r->text[0] <= '9') || r->text[0] == '*') {
		if ((k = new_key(p, K_SEQ)) == NULL)
			return NULL;
		if (imap_set_parse(r->text, &k->set) < 0) {
			search_free(k);
			return fail(p, "bad sequence set");
		}
		return k;
	}
	for (i = 0; i < sizeof keydefs / sizeof keydefs[0]; i++)
		if (strcasecmp(r->text, keydefs[i].name) == 0) {
			kd = &keydefs[i];
			break;
		}
	if (kd == NULL)
		return fail(p, "unknown search key");
	if ((k = new_key(p, kd->kind)) == NULL)
		return NULL;
	k->mask = kd->mask;
	k->want = kd->want;
	k->cost = cost_of(kd->kind);
	if (parse_arg(p, kd, k, depth) < 0) {
		search_free(k);
		return NULL;
	}
	return k;
}

struct search_key *search_parse(struct imap_reader *r, const struct search_ctx *c,
                                const char **why, int *badcharset)
{
	struct parser p = { r, c, why, 0, 0, IMAP_END };
	enum imap_tok t;
	char *cs;

	*why = NULL;
	*badcharset = 0;
	/* "CHARSET x" first */
	t = imap_next(r, IMAP_WILDCARDS);
	if (t == IMAP_ATOM && strcasecmp(r->text, "CHARSET") == 0) {
		if ((cs = astring(&p)) == NULL)
			return NULL;
		if (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0) {
			free(cs);
			*badcharset = 1;
			return fail(&p, "unsupported charset");
		}
		free(cs);
	} else {
		/* a key or an error: r->text still holds the token */
		p.pending = 1;
		p.first = t;
	}
	return parse_list(&p, 0, 0);
}

/* The matching of one message: its file is opened at the first key that
 * needs it, and then kept for the rest. */
struct matcher {
	const struct search_ctx *c;
	const struct search_msg *m;
	struct err *e;
	struct mime_msg *mm;
	int header_only;
};

static int need_file(struct matcher *x)
{
	if (x->mm != NULL)
		return 0;
	if (x->m->open == NULL)
		return err_set(x->e, EX_SOFTWARE, "message %u: no file to search", x->m->seq);
	x->mm = x->m->open(x->m->ctx, x->header_only, x->e);
	if (x->mm == NULL) {
		if (x->e->code == 0)
			err_set(x->e, EX_TEMPFAIL, "message %u: cannot be read", x->m->seq);
		return -1;
	}
	return 0;
}

static int sent_day(struct matcher *x, long *day)
{
	time_t t;
	int tz = 0;

	if (need_file(x) < 0)
		return -1;
	t = mime_date(x->mm, &tz);
	if (t == (time_t)-1)
		return 0;
	*day = day_of(t, tz);
	return 1;
}

static int match(const struct search_key *k, struct matcher *x)
{
	const struct search_msg *m = x->m;
	const struct search_key *first, *second;
	long day;
	size_t i;
	int v;

	switch (k->kind) {
	case K_ALL:
		return 1;
	case K_FLAGS:
		return (m->flags & k->mask) == k->want;
	case K_KEYWORD:
		v = k->kw >= 0 && (m->keywords & ((uint32_t)1 << k->kw)) != 0;
		return v == (int)k->want;
	case K_LARGER:
		return m->size > k->size;
	case K_SMALLER:
		return m->size < k->size;
	case K_SEQ:
		return imap_set_contains(&k->set, m->seq, x->c->max_seq);
	case K_UID:
		return imap_set_contains(&k->set, m->uid, x->c->max_uid);
	case K_BEFORE:
		return day_of(m->internal, x->c->tz) < k->day;
	case K_ON:
		return day_of(m->internal, x->c->tz) == k->day;
	case K_SINCE:
		return day_of(m->internal, x->c->tz) >= k->day;
	case K_SENTBEFORE:
	case K_SENTON:
	case K_SENTSINCE:
		/* no readable Date: no sent date to compare */
		if ((v = sent_day(x, &day)) <= 0)
			return v;
		if (k->kind == K_SENTBEFORE)
			return day < k->day;
		if (k->kind == K_SENTON)
			return day == k->day;
		return day >= k->day;
	case K_HEADER:
		if (m->envelope != NULL &&
		    (v = mime_envelope_contains(m->envelope, m->envelope_len, k->name, k->str)) >= 0)
			return v;
		if (need_file(x) < 0)
			return -1;
		return mime_header_contains(x->mm, k->name, k->str) > 0;
	case K_BODY:
		if (need_file(x) < 0)
			return -1;
		return mime_body_contains(x->mm, k->str) > 0;
	case K_TEXT:
		if (need_file(x) < 0)
			return -1;
		return mime_header_contains(x->mm, NULL, k->str) > 0 ||
		       mime_body_contains(x->mm, k->str) > 0;
	case K_NOT:
		v = match(k->a, x);
		return v < 0 ? -1 : !v;
	case K_OR:
		/* the cheaper side first: it may spare the file */
		first = k->a->cost <= k->b->cost ? k->a : k->b;
		second = first == k->a ? k->b : k->a;
		if ((v = match(first, x)) != 0)
			return v;
		return match(second, x);
	case K_AND:
		for (i = 0; i < k->nkids; i++)
			if ((v = match(k->kids[i], x)) <= 0)
				return v;
		return 1;
	}
	return 0;
}

int search_match(const struct search_key *k, const struct search_ctx *c,
                 const struct search_msg *m, struct err *e)
{
	/* one parse per message: the header alone unless a body key may
	 * be reached */
	struct matcher x = { c, m, e, NULL, k->cost < C_BODY };

	return match(k, &x);
}

int search_needs_file(const struct search_key *k)
{
	return k->cost != C_NONE;
}
