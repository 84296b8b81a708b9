/* tokens: the token set of one message for a Bayesian filter.
 *
 * Text reaches the tokenizer in pieces (mime_each_text never holds a
 * whole part), so everything here is a state machine fed one octet at a
 * time: UTF-8 characters are assembled across pieces, an HTML tag or
 * entity cut by a piece boundary is finished by the next piece, and a
 * word runs on into the next piece. Every buffer has a fixed size, so a
 * hostile message costs time in proportion to its size and no more
 * memory than the TOKENS_MAX tokens of the set.
 *
 * Choices, after bogofilter and SpamBayes: words longer than 40 octets
 * are dropped rather than cut (they are mostly encoded junk); HTML tags
 * are stripped but the hosts of URLs in them are kept, since a spammer
 * can vary words more easily than the domain he must send readers to;
 * inline tags (<b>, <font>, ...) and comments do not split a word, so
 * "fr<b></b>ee" is "free", as spam writes it to dodge word filters. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <glib.h>

#include "mime.h"
#include "tokens.h"

#define WORD_BUF 200             /* raw octets of a word kept; more: too long */
#define RUN_MAX 2048             /* of a run of non-space kept to look for URLs */
#define TAG_MAX 4096             /* of an HTML tag kept to look for URLs */
#define HOST_MAX 100             /* longer host names give no url: token */
#define PREFIX_MAX 64

/* ---- the set ---- */

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL;   /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* The slot where s is or would go. */
static size_t find(const struct tokens *t, const char *s, size_t n)
{
	size_t i = (size_t)hash(s, n) & (t->cap - 1);

	while (t->slot[i] != NULL && (strlen(t->slot[i]) != n || memcmp(t->slot[i], s, n) != 0))
		i = (i + 1) & (t->cap - 1);
	return i;
}

static void grow(struct tokens *t)
{
	struct tokens nt = { NULL, t->cap ? 2 * t->cap : 64, t->n };

	nt.slot = g_new0(char *, nt.cap);
	for (size_t i = 0; i < t->cap; i++)
		if (t->slot[i] != NULL)
			nt.slot[find(&nt, t->slot[i], strlen(t->slot[i]))] = t->slot[i];
	g_free(t->slot);
	*t = nt;
}

int tokens_add(struct tokens *t, const char *tok, size_t n)
{
	size_t i;

	if (t->n >= TOKENS_MAX)
		return 1;
	if (n == 0 || memchr(tok, '\0', n) != NULL)
		return 0;
	if (2 * (t->n + 1) > t->cap)
		grow(t);
	i = find(t, tok, n);
	if (t->slot[i] == NULL) {
		t->slot[i] = g_strndup(tok, n);
		t->n++;
	}
	return t->n >= TOKENS_MAX;
}

int tokens_has(const struct tokens *t, const char *tok)
{
	return t->cap > 0 && t->slot[find(t, tok, strlen(tok))] != NULL;
}

int tokens_each(const struct tokens *t, int (*fn)(void *ctx, const char *tok), void *ctx)
{
	int r;

	for (size_t i = 0; i < t->cap; i++)
		if (t->slot[i] != NULL && (r = fn(ctx, t->slot[i])) != 0)
			return r;
	return 0;
}

void tokens_free(struct tokens *t)
{
	for (size_t i = 0; i < t->cap; i++)
		g_free(t->slot[i]);
	g_free(t->slot);
	t->slot = NULL;
	t->cap = 0;
	t->n = 0;
}

/* ---- the tokenizer ---- */

enum hstate { H_TEXT, H_TAG, H_ENT, H_COMMENT, H_SKIP };

struct tz {
	struct tokens *t;
	char prefix[PREFIX_MAX];
	size_t plen;
	int full;
	/* the word being read */
	char word[WORD_BUF];
	size_t wlen;
	int inword, toolong;
	char pending;            /* ' - . $ waiting for a letter or digit */
	/* a UTF-8 character being assembled */
	unsigned char u8[4];
	int u8n, u8need;
	/* the run of non-space being read, for URLs */
	char run[RUN_MAX];
	size_t rlen;
	/* HTML */
	int html;
	enum hstate hs;
	char tag[TAG_MAX];
	size_t tlen;
	char quote;
	char ent[12];
	size_t elen;
	int dashes;
	char skip_to[10];        /* H_SKIP: "/script" or "/style" */
	size_t skip_at;
};

static void add_token(struct tz *z, const char *s, size_t n)
{
	char buf[PREFIX_MAX + 2 * HOST_MAX + 8];

	if (z->full || z->plen + n > sizeof buf)
		return;
	memcpy(buf, z->prefix, z->plen);
	memcpy(buf + z->plen, s, n);
	z->full = tokens_add(z->t, buf, z->plen + n);
}

/* A word keeps its case, as bogofilter's do: "FREE" and "free" say
 * different things (measured on the SpamAssassin corpus: fewer spam
 * called ham than with words folded). */
static void word_end(struct tz *z)
{
	size_t n = z->wlen, digits = 0;

	if (z->inword && !z->toolong && n > 0) {
		while (digits < n && g_ascii_isdigit(z->word[digits]))
			digits++;
		if (n >= TOKENS_WORD_MIN && n <= TOKENS_WORD_MAX && !(digits == n && n > 6))
			add_token(z, z->word, n);
	}
	z->inword = 0;
	z->toolong = 0;
	z->wlen = 0;
}

static void word_add(struct tz *z, const char *b, size_t n)
{
	if (z->wlen + n > sizeof z->word) {
		z->toolong = 1;
		return;
	}
	memcpy(z->word + z->wlen, b, n);
	z->wlen += n;
}

static int is_ipv4(const char *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!g_ascii_isdigit(h[i]) && h[i] != '.')
			return 0;
	return 1;
}

/* url:host and url:domain (the last two labels) for the host at s. */
static void add_host(struct tz *z, const char *s, size_t n)
{
	char host[HOST_MAX + 4];
	size_t len = 0, saved = z->plen;

	while (len < n && len <= HOST_MAX &&
	       (g_ascii_isalnum(s[len]) || s[len] == '.' || s[len] == '-' || s[len] == '_'))
		len++;
	while (len > 0 && s[len - 1] == '.')
		len--;
	while (len > 0 && *s == '.')
		s++, len--;
	if (len == 0 || len > HOST_MAX)
		return;
	memcpy(host, "url:", 4);
	for (size_t i = 0; i < len; i++)
		host[4 + i] = g_ascii_tolower(s[i]);
	z->plen = 0;   /* url: tokens carry no field name */
	add_token(z, host, 4 + len);
	if (!is_ipv4(host + 4, len)) {
		/* the domain: from after the second last dot, when there is one */
		size_t last = len, prev = len;

		for (size_t i = len; i > 0; i--)
			if (host[4 + i - 1] == '.') {
				if (last == len) {
					last = i - 1;
				} else {
					prev = i - 1;
					break;
				}
			}
		if (prev < len) {
			memmove(host + 4, host + 4 + prev + 1, len - prev - 1);
			add_token(z, host, 4 + len - prev - 1);
		}
	}
	z->plen = saved;
}

static int at_ci(const char *s, size_t n, size_t i, const char *lit)
{
	size_t l = strlen(lit);

	return n - i >= l && g_ascii_strncasecmp(s + i, lit, l) == 0;
}

/* The URLs in s: http:// or https:// anywhere, www. at the start of a
 * name. A user name before the host (http://user@host) is passed over. */
static void scan_urls(struct tz *z, const char *s, size_t n)
{
	for (size_t i = 0; i < n && !z->full; i++) {
		size_t h;

		if (at_ci(s, n, i, "http://"))
			h = i + 7;
		else if (at_ci(s, n, i, "https://"))
			h = i + 8;
		else if (at_ci(s, n, i, "www.") &&
			 (i == 0 || !(g_ascii_isalnum(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == '-')))
			h = i;
		else
			continue;
		/* a user name is short: looking further would make a tag
		 * full of "www." cost its length squared */
		for (size_t j = h; j < n && j < h + 64 && s[j] != '/' && s[j] != '?' && s[j] != '#' &&
		     s[j] != '"' && s[j] != '\'' && s[j] != ' ' && s[j] != '>'; j++)
			if (s[j] == '@') {
				h = j + 1;
				break;
			}
		add_host(z, s + h, n - h);
		i = h > i ? h - 1 : i;
	}
}

static void run_end(struct tz *z)
{
	/* "http://", "https://" and "www." each hold a ':' or a '.' */
	if (z->rlen > 0 && (memchr(z->run, '.', z->rlen) != NULL || memchr(z->run, ':', z->rlen) != NULL))
		scan_urls(z, z->run, z->rlen);
	z->rlen = 0;
}

/* One character u (its octets b, n) of text. */
/* What an ASCII character is to the scanner. */
enum { C_OTHER, C_SEP = 1, C_ALNUM = 2, C_JOIN = 4 };   /* C_JOIN: ' - . $ */

static unsigned char ascii_class(unsigned char c)
{
	static unsigned char cls[128];
	static int made;

	if (!made) {
		for (int i = 0; i < 128; i++)
			cls[i] = g_ascii_isspace(i) || i < 0x20 || strchr("<>\"'()[]{}", i) != NULL ?
			         C_SEP : C_OTHER;
		for (int i = 0; i < 128; i++)
			if (g_ascii_isalnum(i))
				cls[i] |= C_ALNUM;
		cls['\''] |= C_JOIN;
		cls['-'] |= C_JOIN;
		cls['.'] |= C_JOIN;
		cls['$'] |= C_JOIN;
		cls[0] = C_SEP;
		made = 1;
	}
	return cls[c];
}

static void char_in(struct tz *z, gunichar u, const char *b, size_t n)
{
	int c = u < 0x80 ? ascii_class((unsigned char)u) :
	        (g_unichar_isspace(u) ? C_SEP : 0) | (g_unichar_isalnum(u) ? C_ALNUM : 0);

	if (c & C_SEP)
		run_end(z);
	else if (z->rlen + n <= sizeof z->run) {
		memcpy(z->run + z->rlen, b, n);
		z->rlen += n;
	}
	if (c & C_ALNUM) {
		if (!z->inword) {
			z->inword = 1;
			if (z->pending == '$')
				word_add(z, "$", 1);
		} else if (z->pending != 0) {
			word_add(z, &z->pending, 1);
		}
		z->pending = 0;
		word_add(z, b, n);
	} else if (c & C_JOIN) {
		if (z->inword && z->pending == 0) {
			z->pending = (char)u;
		} else {
			word_end(z);
			z->pending = u == '$' ? '$' : 0;
		}
	} else {
		word_end(z);
		z->pending = 0;
	}
}

static void separate(struct tz *z)
{
	char_in(z, ' ', " ", 1);
}

/* One octet of UTF-8 text; what is not UTF-8 separates words. */
static void utf8_in(struct tz *z, unsigned char c)
{
	gunichar u;

	if (z->u8n > 0 && (c & 0xC0) != 0x80) {
		z->u8n = 0;   /* a character cut short */
		separate(z);
	}
	if (z->u8n == 0) {
		if (c < 0x80) {
			char b = (char)c;

			char_in(z, c, &b, 1);
			return;
		}
		z->u8need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
		if (z->u8need == 0) {
			separate(z);
			return;
		}
	}
	z->u8[z->u8n++] = c;
	if (z->u8n < z->u8need)
		return;
	z->u8n = 0;
	u = g_utf8_get_char_validated((const char *)z->u8, z->u8need);
	if (u == (gunichar)-1 || u == (gunichar)-2)
		separate(z);
	else
		char_in(z, u, (const char *)z->u8, (size_t)z->u8need);
}

static void text_in(struct tz *z, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		utf8_in(z, (unsigned char)s[i]);
}

/* &name; or &#NN; or &#xHH;, without the & and ;. */
static void entity(struct tz *z)
{
	static const struct { const char *name; gunichar u; } named[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "nbsp", ' ' },
		{ "quot", '"' }, { "apos", '\'' },
	};
	gunichar u = 0;
	char b[8];
	int len;

	z->ent[z->elen] = '\0';
	if (z->ent[0] == '#') {
		char *end;
		unsigned long v = z->ent[1] == 'x' || z->ent[1] == 'X' ?
				  strtoul(z->ent + 2, &end, 16) : strtoul(z->ent + 1, &end, 10);

		if (*end == '\0' && end != z->ent + 1 && v <= 0x10FFFF)
			u = (gunichar)v;
	} else {
		for (size_t i = 0; i < sizeof named / sizeof *named; i++)
			if (g_ascii_strcasecmp(z->ent, named[i].name) == 0)
				u = named[i].u;
	}
	if (u == 0 || !g_unichar_validate(u)) {
		utf8_in(z, '&');
		text_in(z, z->ent, z->elen);
		utf8_in(z, ';');
		return;
	}
	len = g_unichar_to_utf8(u, b);
	char_in(z, u, b, (size_t)len);
}

static int tag_is(const char *name, size_t n, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strlen(*list) == n && g_ascii_strncasecmp(name, *list, n) == 0)
			return 1;
	return 0;
}

static void tag_end(struct tz *z)
{
	static const char *const inline_tags[] = { "a", "b", "i", "u", "s", "em", "strong", "font",
		"span", "small", "big", "sub", "sup", "tt", "abbr", "wbr", NULL };
	static const char *const skip_tags[] = { "script", "style", NULL };
	size_t i = 0, start;

	scan_urls(z, z->tag, z->tlen);
	if (i < z->tlen && z->tag[i] == '/')
		i++;
	start = i;
	while (i < z->tlen && g_ascii_isalnum(z->tag[i]))
		i++;
	if (!tag_is(z->tag + start, i - start, inline_tags))
		separate(z);
	if (start == 0 && tag_is(z->tag, i, skip_tags) && (z->tlen == 0 || z->tag[z->tlen - 1] != '/')) {
		/* script and style content are not text */
		z->skip_to[0] = '/';
		for (size_t k = 0; k < i && k + 1 < sizeof z->skip_to; k++)
			z->skip_to[k + 1] = g_ascii_tolower(z->tag[k]);
		z->skip_to[i + 1 < sizeof z->skip_to ? i + 1 : sizeof z->skip_to - 1] = '\0';
		z->skip_at = 0;
		z->hs = H_SKIP;
		return;
	}
	z->hs = H_TEXT;
}

static void html_in(struct tz *z, char c)
{
	switch (z->hs) {
	case H_TEXT:
		if (c == '<') {
			z->hs = H_TAG;
			z->tlen = 0;
			z->quote = 0;
		} else if (c == '&') {
			z->hs = H_ENT;
			z->elen = 0;
		} else {
			utf8_in(z, (unsigned char)c);
		}
		return;
	case H_TAG:
		if (z->tlen == 0 && !g_ascii_isalpha(c) && c != '/' && c != '!' && c != '?') {
			z->hs = H_TEXT;   /* "a < b": not a tag */
			utf8_in(z, '<');
			html_in(z, c);
			return;
		}
		if (z->quote != 0) {
			if (c == z->quote)
				z->quote = 0;
		} else if (c == '>') {
			tag_end(z);
			return;
		} else if ((c == '"' || c == '\'') && z->tlen > 0 && z->tag[z->tlen - 1] == '=') {
			/* a quote opens a value only after =: "<p don't>" has none */
			z->quote = c;
		}
		if (z->tlen < sizeof z->tag)
			z->tag[z->tlen++] = c;
		if (z->tlen == 3 && memcmp(z->tag, "!--", 3) == 0) {
			z->hs = H_COMMENT;
			z->dashes = 0;
		}
		return;
	case H_COMMENT:
		if (c == '>' && z->dashes >= 2)
			z->hs = H_TEXT;
		z->dashes = c == '-' ? z->dashes + 1 : 0;
		return;
	case H_ENT:
		if (c == ';') {
			z->hs = H_TEXT;
			entity(z);
		} else if ((g_ascii_isalnum(c) || (c == '#' && z->elen == 0)) && z->elen + 1 < sizeof z->ent) {
			z->ent[z->elen++] = c;
		} else {
			z->hs = H_TEXT;
			utf8_in(z, '&');
			text_in(z, z->ent, z->elen);
			html_in(z, c);
		}
		return;
	case H_SKIP:
		/* until "</script" or "</style" */
		if (z->skip_at == 0) {
			z->skip_at = c == '<';
		} else if (z->skip_to[z->skip_at - 1] == '\0') {
			if (c == '>')
				z->hs = H_TEXT;
			else if (g_ascii_isalnum(c))
				z->skip_at = 0;   /* "</scripts": not the end */
		} else if (g_ascii_tolower(c) == z->skip_to[z->skip_at - 1]) {
			z->skip_at++;
		} else {
			z->skip_at = c == '<';
		}
		return;
	}
}

/* The end of a text: finish what is half read. */
static void flush(struct tz *z)
{
	if (z->hs == H_ENT) {
		utf8_in(z, '&');
		text_in(z, z->ent, z->elen);
	}
	z->hs = H_TEXT;
	if (z->u8n > 0) {
		z->u8n = 0;
		separate(z);
	}
	word_end(z);
	z->pending = 0;
	run_end(z);
}

static void feed(struct tz *z, const char *s, size_t n)
{
	if (!z->html) {
		text_in(z, s, n);
		return;
	}
	for (size_t i = 0; i < n && !z->full; i++)
		html_in(z, s[i]);
}

static void set_prefix(struct tz *z, const char *p)
{
	size_t n = p != NULL ? strlen(p) : 0;

	if (n >= sizeof z->prefix)
		n = sizeof z->prefix - 1;
	memcpy(z->prefix, p != NULL ? p : "", n);
	z->prefix[n] = '\0';
	z->plen = n;
}

int tokens_add_text(struct tokens *t, const char *prefix, const char *utf8, size_t n)
{
	struct tz *z = g_new0(struct tz, 1);
	int full;

	z->t = t;
	z->full = t->n >= TOKENS_MAX;
	set_prefix(z, prefix);
	feed(z, utf8, n);
	flush(z);
	full = z->full;
	g_free(z);
	return full;
}

/* ---- a message ---- */

struct msg_ctx {
	struct tokens *t;
	struct tz *hdr, *body;   /* one each: a tz is large to zero per field */
	int full;
};

/* The header fields whose words are tokens, and the top Received:
 * (walked for alone, so the others are never decoded). */
static const char *const fields[] = { "subject", "from", "to", "cc", "reply-to",
	"return-path", "content-type", "x-mailer", "user-agent", "message-id", NULL };
static const char *const received[] = { "received", NULL };

static int header_tokens(void *ctx, const char *name, const char *value)
{
	struct msg_ctx *c = ctx;
	char prefix[PREFIX_MAX];
	const char *at;
	size_t n = strlen(name), i;

	for (i = 0; i < n && i + 2 < sizeof prefix; i++)
		prefix[i] = g_ascii_tolower(name[i]);
	prefix[i++] = ':';
	prefix[i] = '\0';
	if (g_ascii_strcasecmp(name, "message-id") == 0) {
		/* the local part is unique to the message: only the domain says anything */
		if ((at = strrchr(value, '@')) == NULL)
			return 0;
		value = at + 1;
		n = strcspn(value, ">");
	} else {
		n = strlen(value);
	}
	set_prefix(c->hdr, prefix);
	c->hdr->full = c->t->n >= TOKENS_MAX;
	feed(c->hdr, value, n);
	flush(c->hdr);
	c->full = c->hdr->full;
	return c->full;
}

static int top_received(void *ctx, const char *name, const char *value)
{
	header_tokens(ctx, name, value);
	return 1;   /* the first is enough */
}

static int text_tokens(void *ctx, int html, const char *s, size_t n)
{
	struct msg_ctx *c = ctx;
	struct tz *z = c->body;

	if (n == 0) {
		flush(z);   /* the part ended */
		z->html = -1;
		return z->full;
	}
	if (z->html < 0)
		z->html = html;
	feed(z, s, n);
	return z->full;
}

int tokens_from_mime(struct tokens *t, struct mime_msg *m, struct err *e)
{
	struct msg_ctx c = { t, NULL, NULL, 0 };
	int r;

	c.hdr = g_new0(struct tz, 1);
	c.hdr->t = t;
	r = mime_each_header_of(m, received, top_received, &c);
	if (r >= 0)
		r = mime_each_header_of(m, fields, header_tokens, &c);
	g_free(c.hdr);
	if (r < 0)
		return err_sys(e, EX_TEMPFAIL, "cannot read the message's header");
	r = 0;
	if (t->n < TOKENS_MAX) {
		c.body = g_new0(struct tz, 1);
		c.body->t = t;
		c.body->html = -1;
		r = mime_each_text(m, text_tokens, &c, e);
		g_free(c.body);
	}
	return r;
}

int tokens_from_message(struct tokens *t, int fd, struct err *e)
{
	struct mime_msg *m = mime_open(fd, 0, e);
	int r;

	if (m == NULL)
		return -1;
	r = tokens_from_mime(t, m, e);
	mime_close(m);
	return r;
}
