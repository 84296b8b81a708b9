/* rules: scored header and body regex checks; the format is described in
 * rules.h. Body text is streamed from mime_each_text and matched line by
 * line through one bounded buffer, so a large message is never held. */
#include "config.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "file.h"
#include "mime.h"
#include "rules.h"

#define FIELD_MAX 76
/* a file of RULES_MAX rules with comments has room */
#define FILE_MAX (16 * 1024 * 1024)

enum kind { RULE_HEADER, RULE_BODY };

struct rule {
	enum kind kind;
	char name[RULES_NAME_MAX + 1];
	char field[FIELD_MAX + 1];
	regex_t re;
	double score;
	char *desc;
};

struct rules {
	struct rule *v;
	size_t n;
	size_t nbody;
};

/* the next word of the line at *p (NULL when none), its length in *len */
static const char *word(const char **p, size_t *len)
{
	const char *s = *p, *w;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	w = s;
	while (*s != '\0' && *s != ' ' && *s != '\t')
		s++;
	*len = (size_t)(s - w);
	*p = s;
	return w;
}

static int bad(struct err *e, const char *path, unsigned line, const char *why)
{
	return err_set(e, EX_CONFIG, "%s:%u: %s", path, line, why);
}

static int valid_name(const char *w, size_t n)
{
	if (n == 0 || n > RULES_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((w[i] >= 'A' && w[i] <= 'Z') || (w[i] >= '0' && w[i] <= '9') || w[i] == '_'))
			return 0;
	return 1;
}

static struct rule *find(const struct rules *r, const char *w, size_t n)
{
	for (size_t i = 0; i < r->n; i++)
		if (strlen(r->v[i].name) == n && memcmp(r->v[i].name, w, n) == 0)
			return &r->v[i];
	return NULL;
}

/* [+-]digits[.digits], by hand so the locale's decimal point does not
 * matter; 0 when w is one, within RULES_SCORE_MAX */
static int parse_score(const char *w, size_t n, double *out)
{
	double v = 0, scale = 1;
	size_t i = 0, digits = 0;
	int neg = 0, frac = 0;

	if (i < n && (w[i] == '-' || w[i] == '+'))
		neg = w[i++] == '-';
	for (; i < n; i++) {
		if (w[i] == '.' && !frac) {
			frac = 1;
			continue;
		}
		if (w[i] < '0' || w[i] > '9' || digits >= 15)
			return -1;
		digits++;
		if (frac) {
			scale /= 10;
			v += (w[i] - '0') * scale;
		} else
			v = v * 10 + (w[i] - '0');
	}
	if (digits == 0 || (frac && w[n - 1] == '.') || v > RULES_SCORE_MAX)
		return -1;
	*out = neg ? -v : v;
	return 0;
}

/* /REGEX/FLAGS at *p compiled into re; returns NULL on success or the
 * reason it is bad (regerror's text goes into buf) */
static const char *parse_regex(const char **p, regex_t *re, char *buf, size_t bufsz)
{
	const char *s = *p;
	char pat[RULES_REGEX_MAX + 1];
	size_t n = 0;
	int cflags = REG_EXTENDED | REG_NOSUB, rc;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '/')
		return "missing /REGEX/";
	for (s++; *s != '/'; s++) {
		if (*s == '\0')
			return "regex not closed by '/'";
		if (s[0] == '\\' && s[1] == '/')
			s++;
		else if (s[0] == '\\' && s[1] != '\0') {
			if (n >= RULES_REGEX_MAX)
				return "regex longer than 1024 octets";
			pat[n++] = *s++;
		}
		if (n >= RULES_REGEX_MAX)
			return "regex longer than 1024 octets";
		pat[n++] = *s;
	}
	pat[n] = '\0';
	if (n == 0)
		return "empty regex";
	for (s++; *s != '\0' && *s != ' ' && *s != '\t'; s++) {
		if (*s != 'i')
			return "unknown regex flag (only i is known)";
		cflags |= REG_ICASE;
	}
	if ((rc = regcomp(re, pat, cflags)) != 0) {
		char why[200];

		regerror(rc, re, why, sizeof why);
		if (snprintf(buf, bufsz, "bad regex: %s", why) >= (int)bufsz)
			buf[bufsz - 1] = '\0';
		return buf;
	}
	*p = s;
	return NULL;
}

/* one line (NUL-terminated, no newline) into r; 0, or -1 with e set */
static int parse_line(struct rules *r, const char *line, const char *path, unsigned ln,
                      struct err *e)
{
	const char *p = line, *kw, *w, *why;
	size_t kwn, n;
	struct rule *ru;
	char buf[300];

	if ((kw = word(&p, &kwn)) == NULL || *kw == '#')
		return 0;
	if (kwn == 8 && memcmp(kw, "describe", 8) == 0) {
		if ((w = word(&p, &n)) == NULL || !valid_name(w, n))
			return bad(e, path, ln, "describe needs a rule NAME of A-Z, 0-9 and _ (at most 40)");
		if ((ru = find(r, w, n)) == NULL)
			return bad(e, path, ln, "describe of a rule not defined above it");
		while (*p == ' ' || *p == '\t')
			p++;
		free(ru->desc);
		if ((ru->desc = strdup(p)) == NULL)
			return err_sys(e, EX_TEMPFAIL, "%s:%u: cannot allocate", path, ln);
		return 0;
	}
	if (!((kwn == 6 && memcmp(kw, "header", 6) == 0) || (kwn == 4 && memcmp(kw, "body", 4) == 0)))
		return bad(e, path, ln, "unknown keyword (header, body or describe)");
	if (r->n >= RULES_MAX)
		return bad(e, path, ln, "more than 1000 rules");
	ru = &r->v[r->n];
	memset(ru, 0, sizeof *ru);
	ru->kind = kwn == 6 ? RULE_HEADER : RULE_BODY;
	if ((w = word(&p, &n)) == NULL || !valid_name(w, n))
		return bad(e, path, ln, "rule NAME must be 1 to 40 of A-Z, 0-9 and _");
	if (find(r, w, n) != NULL)
		return bad(e, path, ln, "rule NAME defined twice");
	memcpy(ru->name, w, n);
	if (ru->kind == RULE_HEADER) {
		if ((w = word(&p, &n)) == NULL || *w == '/')
			return bad(e, path, ln, "header rule needs a FIELD before /REGEX/");
		if (n > FIELD_MAX)
			return bad(e, path, ln, "header FIELD longer than 76");
		for (size_t i = 0; i < n; i++)
			if (w[i] == ':' || (unsigned char)w[i] < 33 || (unsigned char)w[i] > 126)
				return bad(e, path, ln, "header FIELD has a ':' or a character that is not printable ASCII");
		memcpy(ru->field, w, n);
	}
	if ((why = parse_regex(&p, &ru->re, buf, sizeof buf)) != NULL)
		return bad(e, path, ln, why);
	/* the regex is compiled: count the rule so rules_free frees it */
	r->n++;
	if ((w = word(&p, &n)) == NULL)
		return bad(e, path, ln, "missing SCORE after /REGEX/");
	if (parse_score(w, n, &ru->score) < 0)
		return bad(e, path, ln, "SCORE must be a decimal number from -1000 to 1000");
	if (word(&p, &n) != NULL)
		return bad(e, path, ln, "text after SCORE");
	if (ru->kind == RULE_BODY)
		r->nbody++;
	return 0;
}

int rules_load(struct rules **out, const char *path, struct err *e)
{
	struct rules *r;
	char *data, *p, *end, line[RULES_LINE_MAX + 1];
	size_t len;
	unsigned ln = 0;

	*out = NULL;
	if (file_read_all(path, FILE_MAX, &data, &len, 0, e) < 0)
		return err_prefix(e, 0, "%s", path);
	if ((r = calloc(1, sizeof *r)) == NULL || (r->v = calloc(RULES_MAX, sizeof *r->v)) == NULL) {
		free(r);
		free(data);
		return err_sys(e, EX_TEMPFAIL, "%s: cannot allocate", path);
	}
	for (p = data, end = data + len; p < end; p = p + len + 1) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		ln++;
		if (len > RULES_LINE_MAX) {
			bad(e, path, ln, "line longer than 4096 octets");
			goto fail;
		}
		if (memchr(p, '\0', len) != NULL) {
			bad(e, path, ln, "NUL octet in the line");
			goto fail;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[len - 1] = '\0';
		if (parse_line(r, line, path, ln, e) < 0)
			goto fail;
	}
	free(data);
	*out = r;
	return 0;
fail:
	free(data);
	rules_free(r);
	return -1;
}

void rules_free(struct rules *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		regfree(&r->v[i].re);
		free(r->v[i].desc);
	}
	free(r->v);
	free(r);
}

size_t rules_count(const struct rules *r)
{
	return r->n;
}

const char *rules_describe(const struct rules *r, const char *name)
{
	const struct rule *ru = find(r, name, strlen(name));

	return ru != NULL ? ru->desc : NULL;
}

/* the state of one rules_check */
struct check {
	const struct rules *r;
	unsigned char *hit;
	size_t body_left;        /* body rules not yet matched */
	size_t scanned;          /* text octets looked at */
	int in_tag;              /* inside an HTML tag of the current part */
	char line[RULES_LINE_MAX + 1];
	size_t len;
};

static int header_cb(void *ctx, const char *name, const char *value)
{
	struct check *c = ctx;

	for (size_t i = 0; i < c->r->n; i++) {
		const struct rule *ru = &c->r->v[i];

		if (ru->kind == RULE_HEADER && !c->hit[i] && strcasecmp(ru->field, name) == 0 &&
		    regexec(&ru->re, value, 0, NULL, 0) == 0)
			c->hit[i] = 1;
	}
	return 0;
}

/* match the buffered line against the body rules not yet matched */
static void match_line(struct check *c)
{
	size_t n = c->len;

	if (n > 0 && c->line[n - 1] == '\r')
		n--;
	c->line[n] = '\0';
	for (size_t i = 0; i < c->r->n; i++) {
		const struct rule *ru = &c->r->v[i];

		if (ru->kind == RULE_BODY && !c->hit[i] && regexec(&ru->re, c->line, 0, NULL, 0) == 0) {
			c->hit[i] = 1;
			c->body_left--;
		}
	}
}

static int text_cb(void *ctx, int html, const char *s, size_t n)
{
	struct check *c = ctx;

	if (n == 0) {             /* the end of a part: its last line */
		if (c->len > 0)
			match_line(c);
		c->len = 0;
		c->in_tag = 0;
		return c->body_left == 0;
	}
	if (n > RULES_TEXT_MAX - c->scanned)
		n = RULES_TEXT_MAX - c->scanned;
	c->scanned += n;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (html && (c->in_tag || ch == '<')) {
			c->in_tag = ch != '>';
			continue;
		}
		if (ch == '\n') {
			match_line(c);
			c->len = 0;
			continue;
		}
		if (c->len == RULES_LINE_MAX) {
			/* a long line: scan this window, keep its tail as overlap */
			match_line(c);
			memmove(c->line, c->line + RULES_LINE_MAX - RULES_OVERLAP, RULES_OVERLAP);
			c->len = RULES_OVERLAP;
		}
		c->line[c->len++] = ch == '\0' ? ' ' : ch;
	}
	if (c->scanned >= RULES_TEXT_MAX) {
		if (c->len > 0)
			match_line(c);
		c->len = 0;
		return 1;
	}
	return c->body_left == 0;
}

int rules_check(const struct rules *r, struct mime_msg *m, double *score,
                char *hits, size_t hitssz, struct err *e)
{
	struct check *c;
	size_t used = 0;
	int nhit = 0, full = hitssz == 0;

	*score = 0;
	if (hitssz > 0)
		hits[0] = '\0';
	if (r->n == 0)
		return 0;
	if ((c = calloc(1, sizeof *c)) == NULL || (c->hit = calloc(r->n, 1)) == NULL) {
		free(c);
		return err_sys(e, EX_TEMPFAIL, "cannot allocate");
	}
	c->r = r;
	c->body_left = r->nbody;
	if (r->n > r->nbody && mime_each_header(m, header_cb, c) < 0) {
		err_set(e, EX_TEMPFAIL, "cannot read the message's header");
		nhit = -1;
		goto out;
	}
	if (r->nbody > 0 && mime_each_text(m, text_cb, c, e) < 0) {
		nhit = -1;
		goto out;
	}
	for (size_t i = 0; i < r->n; i++) {
		size_t len;

		if (!c->hit[i])
			continue;
		nhit++;
		*score += r->v[i].score;
		len = strlen(r->v[i].name);
		if (full || used + (used > 0) + len >= hitssz)
			full = 1;
		else {
			if (used > 0)
				hits[used++] = ',';
			memcpy(hits + used, r->v[i].name, len + 1);
			used += len;
		}
	}
out:
	free(c->hit);
	free(c);
	return nhit;
}
