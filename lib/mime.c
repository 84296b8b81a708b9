/* mime: the MIME structure of a stored message over GMime.
 *
 * Why the structure is found here and not by GMime's parser: IMAP needs
 * the file offset of every part's header and body, and GMime gives them
 * for leaf contents only (a multipart's body and its end are nowhere);
 * GMime's parser also builds every part of a message at once, with no
 * bound on how many. So one pass over the file, in blocks, splits it at
 * the boundary lines (RFC 2046 5.1.1: "--" boundary, then only
 * whitespace; "--" boundary "--" closes) and counts the LFs that go out
 * as CR LF; every header block is parsed by GMime (fields, content
 * types, RFC 2231 parameters, addresses, RFC 2047, dates), and GMime's
 * filters undo transfer encodings and convert charsets. Nesting stops
 * at MAX_DEPTH and the part count at MAX_PARTS: what lies beyond is an
 * opaque part. Output follows Dovecot's where the RFCs leave room. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sysexits.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "file.h"
#include "imapfmt.h"
#include "mime.h"

#define BLK (64 * 1024)          /* file reads */
#define MAX_DEPTH 100            /* nested multipart and message levels */
#define MAX_PARTS 10000
#define HDR_MAX (256 * 1024)     /* of a header block given to GMime */
#define PFX 1024                 /* of a line kept to match boundaries */
#define BND_MAX 900              /* longer boundaries are not boundaries */

enum kind { K_LEAF, K_MULTI, K_MSG };

enum env_field { F_DATE, F_SUBJECT, F_FROM, F_SENDER, F_REPLY_TO, F_TO, F_CC,
	F_BCC, F_IN_REPLY_TO, F_MESSAGE_ID, F_N };

static const char *const env_names[F_N] = { "Date", "Subject", "From", "Sender",
	"Reply-To", "To", "Cc", "Bcc", "In-Reply-To", "Message-ID" };

/* An entity: a header and a body, [hstart, bstart) and [bstart, end) of
 * the file, with the count of bare LFs (hb, bb, eb) and of all LFs (bl,
 * el) before each offset, so wire sizes and line counts are differences. */
struct ent {
	off_t hstart, bstart, end;
	uint64_t hb, bb, eb, bl, el;
	enum kind kind;
	int is_msg;              /* the message or an embedded one */
	int opaque;              /* past a limit: application/octet-stream */
	char *type, *subtype;
	char **params;           /* name, value, ...: as sent */
	size_t nparams;
	char *id, *desc, *cte, *md5, *loc, *lang;
	char *disp;
	char *fname;             /* filename= or name=, as GMime decodes it */
	char **dparams;
	size_t ndparams;
	char *env[F_N];          /* is_msg: raw unfolded values */
	struct ent *parent, *child, *last, *next;
	size_t nchild;
};

struct mime_msg {
	int fd;
	GMimeStream *fs;         /* over fd, for GMime's header parser */
	GMimeParserOptions *opts;
	off_t size;
	uint64_t bare;           /* bare LFs in the file */
	int counted;             /* bare is known */
	int header_only;
	struct ent *root;
	size_t nparts;
};

static GMimeParserOptions *options;   /* one set for every message */

static void init_gmime(void)
{
	if (options == NULL) {
		g_mime_init();
		options = g_mime_parser_options_new();
		g_mime_parser_options_set_allow_addresses_without_domain(options, TRUE);
	}
}

/* ---- small helpers ---- */

static int is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* A header value as ENVELOPE gives it: unfolded as Dovecot does it (a
 * line break and the whitespace after it become one space; RFC 5322
 * 2.2.3 would keep all the whitespace), ends trimmed. */
static char *unfold(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *r = g_malloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && s[i + 1] == '\n')
			continue;
		if (s[i] != '\n') {
			r[o++] = s[i];
			continue;
		}
		if (is_wsp((unsigned char)s[i + 1])) {
			while (is_wsp((unsigned char)s[i + 1]))
				i++;
			r[o++] = ' ';
		}
	}
	while (o > 0 && is_wsp((unsigned char)r[o - 1]))
		o--;
	r[o] = '\0';
	n = 0;
	while (is_wsp((unsigned char)r[n]))
		n++;
	memmove(r, r + n, o - n + 1);
	return r;
}

static int is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		g_free(v[i]);
	g_free(v);
}

static void ent_free(struct ent *e)
{
	while (e != NULL) {
		struct ent *next = e->next;

		ent_free(e->child);
		g_free(e->type);
		g_free(e->subtype);
		free_strv(e->params, 2 * e->nparams);
		free_strv(e->dparams, 2 * e->ndparams);
		g_free(e->id);
		g_free(e->desc);
		g_free(e->cte);
		g_free(e->md5);
		g_free(e->loc);
		g_free(e->lang);
		g_free(e->disp);
		g_free(e->fname);
		for (int i = 0; i < F_N; i++)
			g_free(e->env[i]);
		g_free(e);
		e = next;
	}
}

/* ---- header parsing (GMime) ---- */

static char *header_raw(GMimeHeaderList *hl, const char *name)
{
	GMimeHeader *h = g_mime_header_list_get_header(hl, name);
	const char *v;

	if (h == NULL || (v = g_mime_header_get_raw_value(h)) == NULL)
		return NULL;
	return unfold(v);
}

/* A parameter list as BODYSTRUCTURE sends it. GMime decodes RFC 2231
 * and joins continuations; a value that is not ASCII is encoded again
 * (RFC 2231, in its own charset when it had one) so that the reply stays
 * 7-bit, as Dovecot's (which never decodes) does. */
static void take_params(GMimeParamList *pl, char ***out, size_t *nout)
{
	int n = pl != NULL ? g_mime_param_list_length(pl) : 0;
	char **v;
	size_t k = 0;

	if (n <= 0) {
		*out = NULL;
		*nout = 0;
		return;
	}
	v = g_new0(char *, 2 * (size_t)n);
	for (int i = 0; i < n; i++) {
		GMimeParam *p = g_mime_param_list_get_parameter_at(pl, i);
		const char *name = g_mime_param_get_name(p), *val = g_mime_param_get_value(p);
		const char *cs = g_mime_param_get_charset(p), *lang = g_mime_param_get_lang(p);
		GString *enc;
		char *conv = NULL;
		gsize clen = 0;

		if (name == NULL || val == NULL)
			continue;
		if (is_ascii(val)) {
			v[k++] = g_strdup(name);
			v[k++] = g_strdup(val);
			continue;
		}
		if (cs != NULL && g_ascii_strcasecmp(cs, "utf-8") != 0)
			conv = g_convert(val, -1, cs, "UTF-8", NULL, &clen, NULL);
		if (conv == NULL) {
			cs = "utf-8";
			conv = g_strdup(val);
			clen = strlen(val);
		}
		enc = g_string_new(NULL);
		g_string_append_printf(enc, "%s'%s'", cs, lang != NULL ? lang : "");
		for (gsize j = 0; j < clen; j++) {
			unsigned char c = (unsigned char)conv[j];

			if (g_ascii_isalnum(c) || strchr("!#$&+-.^_`|~", c) != NULL)
				g_string_append_c(enc, (char)c);
			else
				g_string_append_printf(enc, "%%%02X", c);
		}
		g_free(conv);
		v[k++] = g_strconcat(name, "*", NULL);
		v[k++] = g_string_free(enc, FALSE);
	}
	*out = v;
	*nout = k / 2;
}

static int identity_cte(const char *cte)
{
	return cte == NULL || g_ascii_strcasecmp(cte, "7bit") == 0 ||
	       g_ascii_strcasecmp(cte, "8bit") == 0 || g_ascii_strcasecmp(cte, "binary") == 0;
}

/* Parse e's header with GMime and say what e is. boundary gets the
 * multipart boundary (malloc'd) when e is a multipart. */
static int read_header_max(struct mime_msg *m, const struct ent *e, size_t max, char **out,
                           size_t *n);
static int read_header(struct mime_msg *m, const struct ent *e, char **out, size_t *n);
static int each_field(const char *h, size_t n,
                      int (*fn)(void *ctx, const char *name, size_t nlen, const char *f, size_t flen),
                      void *ctx);

/* A header's fields that classify hands to GMime: Content-* ones, and
 * of a message those ENVELOPE names, in order, as written. */
struct wanted_fields {
	GString *b;
	int is_msg;
};

static int keep_wanted(void *ctx, const char *name, size_t nlen, const char *f, size_t flen)
{
	struct wanted_fields *w = ctx;
	int keep = nlen > 8 && g_ascii_strncasecmp(name, "Content-", 8) == 0;

	for (int i = 0; i < F_N && !keep && w->is_msg; i++)
		keep = strlen(env_names[i]) == nlen && g_ascii_strncasecmp(env_names[i], name, nlen) == 0;
	if (keep) {
		g_string_append_len(w->b, f, (gssize)flen);
		if (flen == 0 || f[flen - 1] != '\n')
			g_string_append_c(w->b, '\n');
	}
	return 0;
}

static void classify(struct mime_msg *m, struct ent *e, int digest_child, char **boundary)
{
	GMimeObject *o = NULL;
	GMimeParser *p = NULL;
	GMimeHeaderList *hl;
	GMimeContentType *ct;
	GMimeContentDisposition *cd = NULL;
	int has_ct;
	const char *b;

	*boundary = NULL;
	e->kind = K_LEAF;
	if (e->bstart > e->hstart) {
		struct wanted_fields w = { NULL, e->is_msg };
		GMimeStream *mem;
		char *hdr;
		size_t hn;

		/* GMime gets the fields used here alone: parsing the others
		 * (Received: and the like) cost more than the rest together */
		if (read_header_max(m, e, HDR_MAX, &hdr, &hn) == 0 && hdr != NULL) {
			w.b = g_string_sized_new(512);
			each_field(hdr, hn, keep_wanted, &w);
			g_string_append_c(w.b, '\n');
			g_free(hdr);
			mem = g_mime_stream_mem_new_with_buffer(w.b->str, w.b->len);
			g_string_free(w.b, TRUE);
			p = g_mime_parser_new_with_stream(mem);
			g_object_unref(mem);
			o = g_mime_parser_construct_part(p, m->opts);
		}
	}
	if (o == NULL) {
		e->type = g_strdup(digest_child ? "message" : "text");
		e->subtype = g_strdup(digest_child ? "rfc822" : "plain");
		goto kind;
	}
	hl = g_mime_object_get_header_list(o);
	has_ct = g_mime_header_list_contains(hl, "Content-Type");
	ct = g_mime_object_get_content_type(o);
	if (!has_ct || ct == NULL) {
		e->type = g_strdup(digest_child ? "message" : "text");
		e->subtype = g_strdup(digest_child ? "rfc822" : "plain");
	} else {
		e->type = g_strdup(g_mime_content_type_get_media_type(ct));
		e->subtype = g_strdup(g_mime_content_type_get_media_subtype(ct));
		take_params(g_mime_content_type_get_parameters(ct), &e->params, &e->nparams);
		if ((b = g_mime_content_type_get_parameter(ct, "boundary")) != NULL &&
		    *b != '\0' && strlen(b) <= BND_MAX)
			*boundary = g_strdup(b);
	}
	e->id = header_raw(hl, "Content-ID");
	e->desc = header_raw(hl, "Content-Description");
	e->cte = header_raw(hl, "Content-Transfer-Encoding");
	e->md5 = header_raw(hl, "Content-MD5");
	e->loc = header_raw(hl, "Content-Location");
	e->lang = header_raw(hl, "Content-Language");
	if (g_mime_header_list_contains(hl, "Content-Disposition") &&
	    (cd = g_mime_object_get_content_disposition(o)) != NULL &&
	    g_mime_content_disposition_get_disposition(cd) != NULL) {
		e->disp = g_strdup(g_mime_content_disposition_get_disposition(cd));
		take_params(g_mime_content_disposition_get_parameters(cd), &e->dparams, &e->ndparams);
	}
	if (e->disp != NULL && (b = g_mime_content_disposition_get_parameter(cd, "filename")) != NULL &&
	    *b != '\0')
		e->fname = g_strdup(b);
	else if (has_ct && ct != NULL && (b = g_mime_content_type_get_parameter(ct, "name")) != NULL &&
		 *b != '\0')
		e->fname = g_strdup(b);
	if (e->is_msg)
		for (int i = 0; i < F_N; i++)
			e->env[i] = header_raw(hl, env_names[i]);
kind:
	if (g_ascii_strcasecmp(e->type, "multipart") == 0)
		e->kind = K_MULTI;
	else if (g_ascii_strcasecmp(e->type, "message") == 0 &&
		 g_ascii_strcasecmp(e->subtype, "rfc822") == 0 && identity_cte(e->cte))
		e->kind = K_MSG;
	if (o != NULL)
		g_object_unref(o);
	if (p != NULL)
		g_object_unref(p);
}

/* ---- the scan ---- */

enum state { S_HDR, S_BODY, S_PARTS, S_EPI };

struct frame {
	struct ent *e;
	enum state state;
	char *bnd;               /* "--" boundary */
	size_t blen;
};

struct scan {
	struct mime_msg *m;
	struct frame f[MAX_DEPTH + 2];
	int top;                 /* f[0..top] */
	int stop;                /* header only: the top header is done */
};

static struct ent *new_ent(struct scan *s, struct ent *parent, off_t at, uint64_t bare,
                           uint64_t lfs)
{
	struct ent *e = g_new0(struct ent, 1);

	e->hstart = e->bstart = e->end = at;
	e->hb = e->bb = e->eb = bare;
	e->bl = e->el = lfs;
	e->parent = parent;
	if (parent != NULL) {
		if (parent->last != NULL)
			parent->last->next = e;
		else
			parent->child = e;
		parent->last = e;
		parent->nchild++;
	}
	s->m->nparts++;
	return e;
}

static void push(struct scan *s, struct ent *e, enum state st)
{
	s->top++;
	s->f[s->top].e = e;
	s->f[s->top].state = st;
	s->f[s->top].bnd = NULL;
	s->f[s->top].blen = 0;
}


static int env_field(void *ctx, const char *name, size_t nlen, const char *f, size_t flen)
{
	struct ent *e = ctx;

	for (int i = 0; i < F_N; i++)
		if (e->env[i] == NULL && strlen(env_names[i]) == nlen &&
		    g_ascii_strncasecmp(env_names[i], name, nlen) == 0) {
			/* the value after the colon, as GMime's raw value is */
			const char *colon = memchr(f + nlen, ':', flen - nlen);
			char *v = colon ? g_strndup(colon + 1, flen - (size_t)(colon + 1 - f)) : g_strdup("");

			e->env[i] = unfold(v);
			g_free(v);
		}
	return 0;
}

/* The top header when only it is wanted: the fields ENVELOPE names, the
 * first of each, read without GMime; the body is one opaque leaf. */
static void header_fields(struct mime_msg *m, struct ent *e)
{
	char *buf;
	size_t n;

	e->type = g_strdup("text");
	e->subtype = g_strdup("plain");
	e->kind = K_LEAF;
	if (read_header(m, e, &buf, &n) == 0 && buf != NULL) {
		each_field(buf, n, env_field, e);
		g_free(buf);
	}
}

/* The header of the top frame's entity ended at (at, bare, lfs): parse
 * it and set the frame up for the body. */
static void header_done(struct scan *s, off_t at, uint64_t bare, uint64_t lfs)
{
	struct frame *f = &s->f[s->top];
	struct ent *e = f->e;
	char *bnd;
	int digest = e->parent != NULL && e->parent->kind == K_MULTI &&
		     g_ascii_strcasecmp(e->parent->subtype, "digest") == 0;

	e->bstart = at;
	e->bb = bare;
	e->bl = lfs;
	f->state = S_BODY;
	if (s->m->header_only && e == s->m->root) {
		/* ENVELOPE and header keys need the fields alone: no GMime
		 * object for them, which costs more than the rest together */
		header_fields(s->m, e);
		s->stop = 1;
		return;
	}
	classify(s->m, e, digest, &bnd);
	if (e->kind != K_LEAF && (s->top >= MAX_DEPTH || s->m->nparts >= MAX_PARTS)) {
		e->kind = K_LEAF;
		e->opaque = 1;
	} else if (e->kind == K_MULTI) {
		f->state = S_PARTS;
		if (bnd != NULL) {
			f->bnd = g_strconcat("--", bnd, NULL);
			f->blen = strlen(f->bnd);
		}
	} else if (e->kind == K_MSG) {
		struct ent *c = new_ent(s, e, at, bare, lfs);

		c->is_msg = 1;
		push(s, c, S_HDR);
	}
	g_free(bnd);
}

/* End the entities of frames above level k at (at, bare, lfs); each
 * keeps at least its header. */
static void close_above(struct scan *s, int k, off_t at, uint64_t bare, uint64_t lfs)
{
	while (s->top > k) {
		struct frame *f = &s->f[s->top];
		struct ent *e = f->e;

		if (f->state == S_HDR) {
			if (at < e->hstart)
				at = e->hstart, bare = e->hb, lfs = e->bl;
			header_done(s, at, bare, lfs);
			if (s->f[s->top].e != e)
				continue;   /* an empty embedded message to close first */
		}
		if (at < e->bstart) {
			e->end = e->bstart;
			e->eb = e->bb;
			e->el = e->bl;
		} else {
			e->end = at;
			e->eb = bare;
			e->el = lfs;
		}
		/* A multipart has parts (RFC 2046 5.1.1); Dovecot gives one
		 * that has none an empty text/plain part, and so do we. */
		if (e->kind == K_MULTI && e->nchild == 0) {
			struct ent *c = new_ent(s, e, e->end, e->eb, e->el);

			c->type = g_strdup("text");
			c->subtype = g_strdup("plain");
		}
		g_free(f->bnd);
		f->bnd = NULL;
		s->top--;
	}
}

/* 1: delimiter, 2: close delimiter, 0: neither. */
static int boundary_match(const struct frame *f, const char *line, size_t n)
{
	size_t i;
	int r = 1;

	if (f->bnd == NULL || n < f->blen || memcmp(line, f->bnd, f->blen) != 0)
		return 0;
	i = f->blen;
	if (n - i >= 2 && line[i] == '-' && line[i + 1] == '-') {
		i += 2;
		r = 2;
	}
	for (; i < n; i++)
		if (!is_wsp((unsigned char)line[i]) && line[i] != '\r')
			return 0;
	return r;
}

/* One line [at, next) of which the first n (at most PFX) bytes are in
 * line, without its LF; bare, lfs count up to at; prevnl is how the line
 * before ended (0: it did not, 1: LF, 2: CR LF); nl how this one does. */
static int scan_line(struct scan *s, off_t at, off_t next, const char *line, size_t n,
                     uint64_t bare, uint64_t lfs, int prevnl, int nl)
{
	uint64_t nbare = bare + (nl == 1), nlfs = lfs + (nl != 0);
	struct frame *f;

	for (int k = s->top; k >= 0; k--) {
		int r;

		if (s->f[k].state != S_PARTS || (r = boundary_match(&s->f[k], line, n)) == 0)
			continue;
		/* the line break before a boundary is part of it (RFC 2046),
		 * but not the one that ends a close delimiter (Dovecot) */
		close_above(s, k, at - (prevnl == 2 ? 2 : prevnl), bare - (prevnl == 1),
			    lfs - (prevnl != 0));
		if (r == 2 || s->m->nparts >= MAX_PARTS || k >= MAX_DEPTH)
			s->f[k].state = S_EPI;
		else
			push(s, new_ent(s, s->f[k].e, next, nbare, nlfs), S_HDR);
		return r;
	}
	f = &s->f[s->top];
	if (f->state == S_HDR && (n == 0 || (n == 1 && line[0] == '\r')) && nl != 0)
		header_done(s, next, nbare, nlfs);
	return 0;
}

static int scan(struct mime_msg *m, struct err *e)
{
	struct scan s = { .m = m, .top = -1 };
	char *buf = g_malloc(BLK), line[PFX];
	size_t n = 0;
	off_t pos = 0, at = 0;
	uint64_t bare = 0, lfs = 0;
	int prevnl = 0, prevbyte = -1, r;
	ssize_t got;

	m->root = new_ent(&s, NULL, 0, 0, 0);
	m->root->is_msg = 1;
	push(&s, m->root, S_HDR);
	while (!s.stop && (got = pread(m->fd, buf, BLK, pos)) != 0) {
		size_t i = 0;

		if (got < 0) {
			if (errno == EINTR)
				continue;
			g_free(buf);
			close_above(&s, -1, 0, 0, 0);
			return err_sys(e, EX_TEMPFAIL, "cannot read the message");
		}
		while (i < (size_t)got && !s.stop) {
			char *lf = memchr(buf + i, '\n', (size_t)got - i);
			size_t seg = lf != NULL ? (size_t)(lf - (buf + i)) : (size_t)got - i;
			size_t take = seg < PFX - n ? seg : PFX - n;
			int nl;

			memcpy(line + n, buf + i, take);
			n += take;
			if (seg > 0)
				prevbyte = (unsigned char)buf[i + seg - 1];
			i += seg;
			if (lf == NULL)
				break;
			i++;
			nl = prevbyte == '\r' ? 2 : 1;
			if (nl == 2 && n > 0 && n < PFX)
				n--;   /* matching looks at the line without CR LF */
			r = scan_line(&s, at, pos + (off_t)i, line, n, bare, lfs, prevnl, nl);
			bare += nl == 1;
			lfs++;
			prevnl = r == 2 ? 0 : nl;
			prevbyte = '\n';
			at = pos + (off_t)i;
			n = 0;
		}
		pos += got;
	}
	g_free(buf);
	if (s.stop) {
		m->size = lseek(m->fd, 0, SEEK_END);
		m->counted = 0;
	} else {
		if (pos > at)
			scan_line(&s, at, pos, line, n, bare, lfs, prevnl, 0);
		m->size = pos;
		m->bare = bare;
		m->counted = 1;
	}
	if (s.stop) {
		/* the body is not looked at: its counts come when needed */
		m->root->end = m->size;
		s.top = -1;
	} else {
		close_above(&s, -1, pos, bare, lfs);
	}
	return 0;
}

/* Header only: count the bare LFs and LFs of the file, once. */
static int count_all(struct mime_msg *m)
{
	char *buf;
	off_t pos = 0;
	uint64_t bare = 0, lfs = 0, bb = 0, bl = 0;
	int prev = -1;
	ssize_t got;

	if (m->counted)
		return 0;
	buf = g_malloc(BLK);
	while ((got = pread(m->fd, buf, BLK, pos)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			g_free(buf);
			return -1;
		}
		for (ssize_t i = 0; i < got; i++) {
			if (pos + i == m->root->bstart)
				bb = bare, bl = lfs;
			if (buf[i] == '\n') {
				lfs++;
				bare += prev != '\r';
			}
			prev = (unsigned char)buf[i];
		}
		pos += got;
	}
	g_free(buf);
	if (m->root->bstart >= pos)
		bb = bare, bl = lfs;
	m->bare = bare;
	m->root->end = pos;
	m->root->eb = bare;
	m->root->el = lfs;
	m->root->bb = bb;
	m->root->bl = bl;
	m->size = pos;
	m->counted = 1;
	return 0;
}

struct mime_msg *mime_open(int fd, int flags, struct err *e)
{
	struct mime_msg *m;
	int dfd;

	init_gmime();
	if ((dfd = dup(fd)) < 0) {
		err_sys(e, EX_TEMPFAIL, "cannot duplicate the message's descriptor");
		return NULL;
	}
	m = g_new0(struct mime_msg, 1);
	m->fd = dfd;
	m->header_only = (flags & MIME_HEADER_ONLY) != 0;
	m->opts = options;
	if (scan(m, e) < 0) {
		mime_close(m);
		return NULL;
	}
	return m;
}

void mime_close(struct mime_msg *m)
{
	if (m == NULL)
		return;
	ent_free(m->root);
	if (m->fs != NULL)
		g_object_unref(m->fs);
	close(m->fd);
	g_free(m);
}

uint64_t mime_size(struct mime_msg *m)
{
	count_all(m);
	return (uint64_t)m->size + m->bare;
}

/* ---- ENVELOPE ---- */

/* Dovecot sends display names as written, encoded words and all, and
 * GMime's address parser decodes them: so "=?" is hidden from GMime
 * behind a marker and brought back after. */
#define EW_MARK "=#MiMeEw#?"

static char *hide_ew(const char *raw)
{
	char **v = g_strsplit(raw, "=?", -1);
	char *r = g_strjoinv(EW_MARK, v);

	g_strfreev(v);
	return r;
}

static void add_unhidden(struct strbuf *b, const char *s, size_t n)
{
	char *t = g_strndup(s, n), **v = g_strsplit(t, EW_MARK, -1), *r = g_strjoinv("=?", v);

	imap_string(b, r, strlen(r));
	g_strfreev(v);
	g_free(t);
	g_free(r);
}

static void add_name(struct strbuf *b, const char *name)
{
	if (name == NULL || *name == '\0')
		sb_adds(b, "NIL");
	else
		add_unhidden(b, name, strlen(name));
}

static void add_mailbox(struct strbuf *b, InternetAddressMailbox *mb)
{
	const char *addr = mb->addr != NULL ? mb->addr : "";

	sb_addc(b, '(');
	add_name(b, internet_address_get_name(INTERNET_ADDRESS(mb)));
	sb_adds(b, " NIL ");
	if (mb->at >= 0 && (size_t)mb->at < strlen(addr)) {
		add_unhidden(b, addr, (size_t)mb->at);
		sb_addc(b, ' ');
		add_unhidden(b, addr + mb->at + 1, strlen(addr + mb->at + 1));
	} else {
		/* NIL would start a group (RFC 9051 7.5.2): Dovecot's word */
		add_unhidden(b, addr, strlen(addr));
		sb_adds(b, " \"MISSING_DOMAIN\"");
	}
	sb_addc(b, ')');
}

/* Returns 1 when something was added. */
static int add_addresses(struct strbuf *b, InternetAddressList *l, int depth)
{
	int n = l != NULL ? internet_address_list_length(l) : 0, any = 0;

	for (int i = 0; i < n; i++) {
		InternetAddress *a = internet_address_list_get_address(l, i);

		if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
			add_mailbox(b, INTERNET_ADDRESS_MAILBOX(a));
			any = 1;
		} else if (INTERNET_ADDRESS_IS_GROUP(a) && depth == 0) {
			const char *name = internet_address_get_name(a);

			sb_adds(b, "(NIL NIL ");
			add_unhidden(b, name != NULL ? name : "", name != NULL ? strlen(name) : 0);
			sb_adds(b, " NIL)");
			add_addresses(b, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)),
				      depth + 1);
			sb_adds(b, "(NIL NIL NIL NIL)");
			any = 1;
		}
	}
	return any;
}

static void add_address_field(struct mime_msg *m, struct strbuf *b, const char *raw)
{
	InternetAddressList *l;
	size_t mark = b->len;
	char *hidden;

	if (raw == NULL || *raw == '\0') {
		sb_adds(b, "NIL");
		return;
	}
	hidden = hide_ew(raw);
	l = internet_address_list_parse(m->opts, hidden);
	g_free(hidden);
	sb_addc(b, '(');
	if (!add_addresses(b, l, 0)) {
		b->len = mark;
		if (b->s != NULL && !b->failed)
			b->s[mark] = '\0';
		sb_adds(b, "NIL");
	} else {
		sb_addc(b, ')');
	}
	if (l != NULL)
		g_object_unref(l);
}

static int has_address(struct mime_msg *m, const char *raw)
{
	InternetAddressList *l;
	int n;

	if (raw == NULL || *raw == '\0')
		return 0;
	l = internet_address_list_parse(m->opts, raw);
	n = l != NULL ? internet_address_list_length(l) : 0;
	if (l != NULL)
		g_object_unref(l);
	return n > 0;
}

static void envelope(struct mime_msg *m, const struct ent *e, struct strbuf *b)
{
	char *const *v = e->env;

	sb_addc(b, '(');
	imap_nstring(b, v[F_DATE] != NULL && *v[F_DATE] ? v[F_DATE] : NULL);
	sb_addc(b, ' ');
	imap_nstring(b, v[F_SUBJECT]);
	sb_addc(b, ' ');
	add_address_field(m, b, v[F_FROM]);
	sb_addc(b, ' ');
	/* RFC 3501 7.4.2: Sender and Reply-To default to From */
	add_address_field(m, b, has_address(m, v[F_SENDER]) ? v[F_SENDER] : v[F_FROM]);
	sb_addc(b, ' ');
	add_address_field(m, b, has_address(m, v[F_REPLY_TO]) ? v[F_REPLY_TO] : v[F_FROM]);
	for (int i = F_TO; i <= F_BCC; i++) {
		sb_addc(b, ' ');
		add_address_field(m, b, v[i]);
	}
	sb_addc(b, ' ');
	imap_nstring(b, v[F_IN_REPLY_TO] != NULL && *v[F_IN_REPLY_TO] ? v[F_IN_REPLY_TO] : NULL);
	sb_addc(b, ' ');
	imap_nstring(b, v[F_MESSAGE_ID] != NULL && *v[F_MESSAGE_ID] ? v[F_MESSAGE_ID] : NULL);
	sb_addc(b, ')');
}

void mime_envelope(struct mime_msg *m, struct strbuf *b)
{
	envelope(m, m->root, b);
}

/* ---- BODYSTRUCTURE ---- */

static void add_params(struct strbuf *b, char *const *v, size_t n, int charset)
{
	if (n == 0 && !charset) {
		sb_adds(b, "NIL");
		return;
	}
	sb_addc(b, '(');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			sb_addc(b, ' ');
		imap_nstring(b, v[2 * i]);
		sb_addc(b, ' ');
		imap_nstring(b, v[2 * i + 1]);
	}
	/* Dovecot's default for text (RFC 2045 5.2) */
	if (charset)
		sb_adds(b, n > 0 ? " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"");
	sb_addc(b, ')');
}

static void add_ext(struct strbuf *b, const struct ent *e)
{
	if (e->disp != NULL) {
		sb_addc(b, '(');
		imap_nstring(b, e->disp);
		sb_addc(b, ' ');
		add_params(b, e->dparams, e->ndparams, 0);
		sb_addc(b, ')');
	} else {
		sb_adds(b, "NIL");
	}
	sb_addc(b, ' ');
	if (e->lang != NULL && *e->lang != '\0') {
		char **v = g_strsplit(e->lang, ",", 0);
		int first = 1;

		sb_addc(b, '(');
		for (char **p = v; *p != NULL; p++) {
			char *t = g_strstrip(*p);

			if (*t == '\0')
				continue;
			if (!first)
				sb_addc(b, ' ');
			imap_nstring(b, t);
			first = 0;
		}
		sb_addc(b, ')');
		g_strfreev(v);
	} else {
		sb_adds(b, "NIL");
	}
	sb_addc(b, ' ');
	imap_nstring(b, e->loc);
}

static void structure(struct mime_msg *m, const struct ent *e, int ext, struct strbuf *b)
{
	const char *type = e->opaque ? "application" : e->type;
	const char *subtype = e->opaque ? "octet-stream" : e->subtype;
	int text = g_ascii_strcasecmp(type, "text") == 0;
	int charset = text;

	sb_addc(b, '(');
	if (e->kind == K_MULTI) {
		for (const struct ent *c = e->child; c != NULL; c = c->next)
			structure(m, c, ext, b);
		sb_addc(b, ' ');
		imap_nstring(b, subtype);
		if (ext) {
			sb_addc(b, ' ');
			add_params(b, e->params, e->nparams, 0);
			sb_addc(b, ' ');
			add_ext(b, e);
		}
		sb_addc(b, ')');
		return;
	}
	for (size_t i = 0; i < e->nparams && !e->opaque; i++)
		if (g_ascii_strcasecmp(e->params[2 * i], "charset") == 0)
			charset = 0;
	imap_nstring(b, type);
	sb_addc(b, ' ');
	imap_nstring(b, subtype);
	sb_addc(b, ' ');
	if (e->opaque)
		sb_adds(b, "NIL");
	else
		add_params(b, e->params, e->nparams, charset);
	sb_addc(b, ' ');
	imap_nstring(b, e->id);
	sb_addc(b, ' ');
	imap_nstring(b, e->desc);
	sb_addc(b, ' ');
	imap_nstring(b, e->cte != NULL && *e->cte ? e->cte : "7bit");
	sb_addf(b, " %llu", (unsigned long long)((uint64_t)(e->end - e->bstart) + e->eb - e->bb));
	if (e->kind == K_MSG && e->child != NULL) {
		sb_addc(b, ' ');
		envelope(m, e->child, b);
		sb_addc(b, ' ');
		structure(m, e->child, ext, b);
	}
	if (text || e->kind == K_MSG)
		sb_addf(b, " %llu", (unsigned long long)(e->el - e->bl));
	if (ext) {
		sb_addc(b, ' ');
		imap_nstring(b, e->md5);
		sb_addc(b, ' ');
		add_ext(b, e);
	}
	sb_addc(b, ')');
}

void mime_bodystructure(struct mime_msg *m, int extended, struct strbuf *b)
{
	count_all(m);
	structure(m, m->root, extended, b);
}

/* ---- sections ---- */

/* The entity that part numbers name (RFC 9051 6.4.5), or NULL. */
static struct ent *resolve(struct mime_msg *m, const uint32_t *part, size_t depth)
{
	struct ent *cur = m->root;
	int is_msg = 1;

	for (size_t i = 0; i < depth; i++) {
		if (part[i] == 0)
			return NULL;
		if (!is_msg && cur->kind == K_MSG) {
			if ((cur = cur->child) == NULL)
				return NULL;
			is_msg = 1;
		}
		if (cur->kind == K_MULTI) {
			struct ent *c = cur->child;

			for (uint32_t k = 1; c != NULL && k < part[i]; k++)
				c = c->next;
			if (c == NULL)
				return NULL;
			cur = c;
			is_msg = 0;
		} else if (is_msg && part[i] == 1) {
			is_msg = 0;   /* part 1 of a message that is not multipart: its body */
		} else {
			return NULL;
		}
	}
	return cur;
}

#define HDR_READ_MAX (8UL << 20)   /* of a header read for fields or search */

/* The header block of e in memory, at most max octets; NULL with *n 0
 * when it is empty; -1 when the file cannot be read. read_header: at
 * most HDR_READ_MAX. */
static int read_header_max(struct mime_msg *m, const struct ent *e, size_t max, char **out,
                           size_t *n)
{
	size_t len = (size_t)(e->bstart - e->hstart), got = 0;
	char *buf;

	*out = NULL;
	*n = 0;
	if (len > max)
		len = max;
	if (len == 0)
		return 0;
	buf = g_malloc(len + 1);
	while (got < len) {
		ssize_t r = pread(m->fd, buf + got, len - got, e->hstart + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			g_free(buf);
			return -1;
		}
		got += (size_t)r;
	}
	buf[len] = '\0';
	*out = buf;
	*n = len;
	return 0;
}

static int read_header(struct mime_msg *m, const struct ent *e, char **out, size_t *n)
{
	return read_header_max(m, e, HDR_READ_MAX, out, n);
}

/* Call fn for each field of header h (n octets): its name and the whole
 * field as written, folded lines and line ends included. Stops at the
 * blank line, or when fn returns nonzero (then returns that). */
static int each_field(const char *h, size_t n,
                      int (*fn)(void *ctx, const char *name, size_t nlen, const char *f, size_t flen),
                      void *ctx)
{
	size_t i = 0;

	while (i < n) {
		size_t start = i, nlen = 0;
		const char *colon;
		int r;

		if (h[i] == '\n' || (h[i] == '\r' && i + 1 < n && h[i + 1] == '\n'))
			break;
		do {
			const char *lf = memchr(h + i, '\n', n - i);

			i = lf != NULL ? (size_t)(lf - h) + 1 : n;
		} while (i < n && is_wsp((unsigned char)h[i]));
		colon = memchr(h + start, ':', i - start);
		if (colon != NULL && !is_wsp((unsigned char)h[start]) &&
		    memchr(h + start, '\n', (size_t)(colon - (h + start))) == NULL) {
			nlen = (size_t)(colon - (h + start));
			while (nlen > 0 && is_wsp((unsigned char)h[start + nlen - 1]))
				nlen--;
		}
		if ((r = fn(ctx, h + start, nlen, h + start, i - start)) != 0)
			return r;
	}
	return 0;
}

struct fields_ctx {
	const struct mime_section *s;
	struct strbuf *b;
};

static void add_crlf(struct strbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			sb_addc(b, '\r');
		sb_addc(b, s[i]);
	}
}

static int pick_field(void *ctx, const char *name, size_t nlen, const char *f, size_t flen)
{
	struct fields_ctx *c = ctx;
	int hit = 0;

	for (size_t i = 0; i < c->s->nfields && !hit && nlen > 0; i++)
		hit = strlen(c->s->fields[i]) == nlen && g_ascii_strncasecmp(c->s->fields[i], name, nlen) == 0;
	if (nlen > 0 && hit == (c->s->what == MIME_HEADER_FIELDS)) {
		add_crlf(c->b, f, flen);
		if (flen > 0 && f[flen - 1] != '\n')
			sb_adds(c->b, "\r\n");
	}
	return 0;
}

static void file_piece(struct mime_piece *p, off_t from, off_t to, uint64_t bfrom, uint64_t bto)
{
	p->in_file = 1;
	p->off = from;
	p->len = (uint64_t)(to - from);
	p->wire = p->len + (bto - bfrom);
}

int mime_section(struct mime_msg *m, const struct mime_section *s, struct mime_piece *p,
                 struct err *e)
{
	struct ent *cur, *t;

	memset(p, 0, sizeof *p);
	if (count_all(m) < 0)
		return err_sys(e, EX_TEMPFAIL, "cannot read the message");
	if ((cur = resolve(m, s->part, s->depth)) == NULL)
		return 0;
	if (s->what == MIME_ALL) {
		if (s->depth == 0)
			file_piece(p, 0, m->size, 0, m->bare);
		else
			file_piece(p, cur->bstart, cur->end, cur->bb, cur->eb);
		return 0;
	}
	if (s->what == MIME_MIME) {
		if (s->depth > 0)
			file_piece(p, cur->hstart, cur->bstart, cur->hb, cur->bb);
		return 0;
	}
	/* HEADER, TEXT, HEADER.FIELDS: of the message or of a message part */
	if (s->depth == 0)
		t = m->root;
	else if (cur->kind == K_MSG && cur->child != NULL)
		t = cur->child;
	else
		return 0;
	if (s->what == MIME_HEADER) {
		file_piece(p, t->hstart, t->bstart, t->hb, t->bb);
	} else if (s->what == MIME_TEXT) {
		file_piece(p, t->bstart, t->end, t->bb, t->eb);
	} else {
		struct strbuf b = { 0 };
		struct fields_ctx c = { s, &b };
		char *h;
		size_t n;

		if (read_header(m, t, &h, &n) < 0)
			return err_sys(e, EX_TEMPFAIL, "cannot read the message");
		each_field(h, n, pick_field, &c);
		g_free(h);
		sb_adds(&b, "\r\n");
		if (b.failed) {
			sb_free(&b);
			return err_set(e, EX_TEMPFAIL, "header fields too large");
		}
		p->text_len = b.len;
		p->wire = b.len;
		p->text = sb_take(&b);
	}
	return 0;
}

int mime_send(struct mime_msg *m, const struct mime_piece *p, uint64_t from, uint64_t count,
              int (*write)(void *ctx, const void *buf, size_t n), void *ctx, struct err *e)
{
	uint64_t end = count > UINT64_MAX - from ? UINT64_MAX : from + count, w = 0, left;
	unsigned char *in, *out;
	off_t pos;
	int prev = -1, rc = 0;

	if (!p->in_file) {
		if (from >= p->text_len)
			return 0;
		if (end > p->text_len)
			end = p->text_len;
		if (end > from && write(ctx, p->text + from, (size_t)(end - from)) < 0)
			return err_set(e, EX_IOERR, "cannot send the message");
		return 0;
	}
	if (p->off > 0) {
		unsigned char c;

		if (pread(m->fd, &c, 1, p->off - 1) == 1)
			prev = c;
	}
	in = g_malloc(BLK);
	out = g_malloc(2 * BLK);
	pos = p->off;
	left = p->len;
	while (left > 0 && w < end) {
		ssize_t got = pread(m->fd, in, left < BLK ? (size_t)left : BLK, pos);
		size_t o = 0;

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = got < 0 ? err_sys(e, EX_TEMPFAIL, "cannot read the message") :
				       err_set(e, EX_TEMPFAIL, "the message file got shorter");
			break;
		}
		for (ssize_t i = 0; i < got; i++) {
			if (in[i] == '\n' && prev != '\r') {
				if (w >= from && w < end)
					out[o++] = '\r';
				w++;
			}
			if (w >= from && w < end)
				out[o++] = in[i];
			w++;
			prev = in[i];
		}
		if (o > 0 && write(ctx, out, o) < 0) {
			rc = err_set(e, EX_IOERR, "cannot send the message");
			break;
		}
		pos += got;
		left -= (uint64_t)got;
	}
	g_free(in);
	g_free(out);
	return rc;
}

/* ---- decoding ---- */

/* Run [off, end) of the file, its LFs made CR LF (the wire form, which
 * is what was encoded), through filters f[0..nf) into sink, which
 * returns nonzero to stop (then so does this). -1: a read error. */
static int filter_range(struct mime_msg *m, off_t off, off_t end, GMimeFilter **f, int nf,
                        int (*sink)(void *ctx, const char *s, size_t n), void *ctx)
{
	char *buf = g_malloc(BLK), *data;
	size_t len, pre;
	int r = 0;

	for (off_t pos = off; pos < end && r == 0;) {
		ssize_t got = pread(m->fd, buf, end - pos < BLK ? (size_t)(end - pos) : BLK, pos);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			r = -1;
			break;
		}
		pos += got;
		data = buf;
		len = (size_t)got;
		pre = 0;
		for (int i = 0; i < nf; i++)
			g_mime_filter_filter(f[i], data, len, pre, &data, &len, &pre);
		if (len > 0)
			r = sink(ctx, data, len);
	}
	if (r == 0) {
		data = buf;
		len = 0;
		pre = 0;
		for (int i = 0; i < nf; i++)
			g_mime_filter_complete(f[i], data, len, pre, &data, &len, &pre);
		if (len > 0)
			r = sink(ctx, data, len);
	}
	g_free(buf);
	return r;
}

/* The decoder for a transfer encoding: *f NULL for none; -1: unknown. */
static int decoder(const char *cte, GMimeFilter **f)
{
	*f = NULL;
	if (identity_cte(cte) || *cte == '\0')
		return 0;
	if (g_ascii_strcasecmp(cte, "base64") == 0)
		*f = g_mime_filter_basic_new(GMIME_CONTENT_ENCODING_BASE64, FALSE);
	else if (g_ascii_strcasecmp(cte, "quoted-printable") == 0)
		*f = g_mime_filter_basic_new(GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE, FALSE);
	else if (g_ascii_strcasecmp(cte, "x-uuencode") == 0 || g_ascii_strcasecmp(cte, "uuencode") == 0 ||
		 g_ascii_strcasecmp(cte, "x-uue") == 0)
		*f = g_mime_filter_basic_new(GMIME_CONTENT_ENCODING_UUENCODE, FALSE);
	else
		return -1;
	return 0;
}

struct fd_sink {
	int fd;
	uint64_t size;
	int err;
};

static int to_fd(void *ctx, const char *s, size_t n)
{
	struct fd_sink *k = ctx;

	while (n > 0) {
		ssize_t w = write(k->fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			k->err = errno != 0 ? errno : EIO;
			return 1;
		}
		s += w;
		n -= (size_t)w;
		k->size += (uint64_t)w;
	}
	return 0;
}

/* The filters that decode leaf part t (wire line ends, then the transfer
 * encoding) into f; returns their number, or -2 when t has no binary form. */
static int decoders(struct ent *t, GMimeFilter *f[2])
{
	int nf = 0;

	if (t->kind != K_LEAF || t->opaque)
		return -2;
	f[nf++] = g_mime_filter_unix2dos_new(FALSE);
	if (decoder(t->cte, &f[nf]) < 0) {
		g_object_unref(f[0]);
		return -2;
	}
	return f[nf] != NULL ? nf + 1 : nf;
}

int mime_decode(struct mime_msg *m, const uint32_t *part, size_t depth,
                int (*sink)(void *ctx, const char *s, size_t n), void *ctx, struct err *e)
{
	struct ent *t;
	GMimeFilter *f[2];
	int nf, r;

	if (depth == 0)
		return -2;
	if (count_all(m) < 0)
		return err_sys(e, EX_TEMPFAIL, "cannot read the message");
	if ((t = resolve(m, part, depth)) == NULL)
		return 0;
	if ((nf = decoders(t, f)) < 0)
		return nf;
	r = filter_range(m, t->bstart, t->end, f, nf, sink, ctx);
	for (int i = 0; i < nf; i++)
		g_object_unref(f[i]);
	if (r < 0)
		return err_sys(e, EX_TEMPFAIL, "cannot read the message");
	return 0;
}

int mime_binary(struct mime_msg *m, const uint32_t *part, size_t depth, int *fd, uint64_t *size,
                struct err *e)
{
	struct ent *t;
	GMimeFilter *f[2];
	int nf = 0, r;
	struct fd_sink k = { -1, 0, 0 };

	*fd = -1;
	*size = 0;
	if (depth == 0)
		return -2;
	if (count_all(m) < 0)
		return err_sys(e, EX_TEMPFAIL, "cannot read the message");
	/* no such part: an empty file, as BODY[] gives an empty string */
	if ((t = resolve(m, part, depth)) != NULL && (nf = decoders(t, f)) < 0)
		return nf;
	if ((k.fd = file_scratch(NULL, e)) < 0) {
		for (int i = 0; i < nf; i++)
			g_object_unref(f[i]);
		return -1;
	}
	r = t != NULL ? filter_range(m, t->bstart, t->end, f, nf, to_fd, &k) : 0;
	for (int i = 0; i < nf; i++)
		g_object_unref(f[i]);
	if (r != 0 || lseek(k.fd, 0, SEEK_SET) < 0) {
		if (k.err != 0)
			errno = k.err;
		close(k.fd);
		return err_sys(e, EX_TEMPFAIL, r < 0 ? "cannot read the message" : "cannot write a temporary file");
	}
	*fd = k.fd;
	*size = k.size;
	return 0;
}

/* ---- search ---- */

/* s (n octets, any bytes) made valid UTF-8, case-folded and normalised,
 * so that two texts compare without regard to case (RFC 9051 6.4.4). */
static char *fold(const char *s, size_t n)
{
	char *valid = g_utf8_make_valid(s, (gssize)n);
	char *cf = g_utf8_casefold(valid, -1);
	char *norm = g_utf8_normalize(cf, -1, G_NORMALIZE_ALL);

	g_free(valid);
	if (norm == NULL)
		return cf;
	g_free(cf);
	return norm;
}

struct hsearch {
	struct mime_msg *m;
	const char *name;
	const char *needle;      /* folded */
};

static int header_hit(void *ctx, const char *name, size_t nlen, const char *f, size_t flen)
{
	struct hsearch *h = ctx;
	char *raw, *value, *dec, *folded;
	int hit;

	if (nlen == 0)
		return 0;
	if (h->name != NULL && (strlen(h->name) != nlen || g_ascii_strncasecmp(h->name, name, nlen) != 0))
		return 0;
	if (*h->needle == '\0')
		return 1;
	raw = g_strndup(f + nlen, flen - nlen);
	value = unfold(raw[0] == ':' ? raw + 1 : strchr(raw, ':') != NULL ? strchr(raw, ':') + 1 : raw);
	dec = g_mime_utils_header_decode_text(h->m->opts, value);
	folded = fold(dec != NULL ? dec : value, strlen(dec != NULL ? dec : value));
	hit = strstr(folded, h->needle) != NULL;
	if (!hit && h->name == NULL) {
		g_free(folded);
		folded = fold(name, nlen);
		hit = strstr(folded, h->needle) != NULL;
	}
	g_free(raw);
	g_free(value);
	g_free(dec);
	g_free(folded);
	return hit;
}

int mime_header_contains(struct mime_msg *m, const char *name, const char *needle)
{
	struct hsearch h = { m, name, NULL };
	char *buf, *fn;
	size_t n;
	int hit;

	if (read_header(m, m->root, &buf, &n) < 0 || buf == NULL)
		return 0;
	fn = fold(needle, strlen(needle));
	h.needle = fn;
	hit = each_field(buf, n, header_hit, &h) != 0;
	g_free(fn);
	g_free(buf);
	return hit;
}

/* Streaming match: text arrives in pieces; a match may straddle them, so
 * the folded tail of what came before (shorter than the needle) is kept,
 * and so are the octets of a character cut at the end of a piece. */
struct bsearch {
	const char *needle;
	size_t nlen;
	char pend[4];
	size_t npend;
	char *carry;
	size_t ncarry;
};

static size_t complete_utf8(const char *s, size_t n)
{
	/* the longest prefix of s that does not end inside a character */
	for (size_t back = 1; back <= 4 && back <= n; back++) {
		unsigned char c = (unsigned char)s[n - back];
		size_t need;

		if ((c & 0xC0) == 0x80)
			continue;
		need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 :
		       (c & 0xF8) == 0xF0 ? 4 : 1;
		return need > back ? n - back : n;
	}
	return n;
}

static int body_hit(void *ctx, const char *s, size_t n)
{
	struct bsearch *k = ctx;
	char *chunk = g_malloc(k->npend + n + 1), *folded, *hay;
	size_t len = k->npend + n, cut, flen, hlen;
	int hit;

	memcpy(chunk, k->pend, k->npend);
	memcpy(chunk + k->npend, s, n);
	cut = complete_utf8(chunk, len);
	k->npend = len - cut;
	memcpy(k->pend, chunk + cut, k->npend);
	folded = fold(chunk, cut);
	g_free(chunk);
	flen = strlen(folded);
	hlen = k->ncarry + flen;
	hay = g_malloc(hlen + 1);
	memcpy(hay, k->carry, k->ncarry);
	memcpy(hay + k->ncarry, folded, flen + 1);
	g_free(folded);
	hit = memmem(hay, hlen, k->needle, k->nlen) != NULL;
	k->ncarry = hlen < k->nlen - 1 ? hlen : k->nlen - 1;
	memcpy(k->carry, hay + hlen - k->ncarry, k->ncarry);
	g_free(hay);
	return hit;
}

/* The filters that make text part t's content UTF-8 text: its transfer
 * encoding undone, its charset converted. Returns how many went into f
 * (room for 2); *undecodable (when not NULL) says the encoding is one
 * no filter undoes, and then the content goes as it is. */
static int text_filters(const struct ent *t, GMimeFilter **f, int *undecodable)
{
	const char *cs = NULL;
	int nf = 0, r = decoder(t->cte, &f[nf]);

	if (undecodable != NULL)
		*undecodable = r < 0;
	if (r == 0 && f[nf] != NULL)
		nf++;
	for (size_t i = 0; i < t->nparams; i++)
		if (g_ascii_strcasecmp(t->params[2 * i], "charset") == 0)
			cs = t->params[2 * i + 1];
	if (cs != NULL && g_ascii_strcasecmp(cs, "utf-8") != 0 &&
	    g_ascii_strcasecmp(cs, "us-ascii") != 0 &&
	    (f[nf] = g_mime_filter_charset_new(cs, "UTF-8")) != NULL)
		nf++;
	return nf;
}

static int body_search(struct mime_msg *m, const struct ent *t, struct bsearch *k)
{
	GMimeFilter *f[2];
	int nf = 0, r;

	for (; t != NULL; t = t->next) {
		if (t->kind != K_LEAF) {
			if ((r = body_search(m, t->child, k)) != 0)
				return r;
			continue;
		}
		if (t->opaque || g_ascii_strcasecmp(t->type, "text") != 0)
			continue;
		nf = text_filters(t, f, NULL);
		k->npend = 0;
		k->ncarry = 0;
		r = filter_range(m, t->bstart, t->end, f, nf, body_hit, k);
		if (r == 0 && k->npend > 0)
			r = body_hit(k, "", 0);   /* a cut character at the very end */
		for (int i = 0; i < nf; i++)
			g_object_unref(f[i]);
		if (r > 0)
			return 1;
	}
	return 0;
}

int mime_body_contains(struct mime_msg *m, const char *needle)
{
	struct bsearch k = { 0 };
	int hit;

	k.needle = fold(needle, strlen(needle));
	k.nlen = strlen(k.needle);
	if (k.nlen == 0) {
		g_free((char *)k.needle);
		return 1;
	}
	k.carry = g_malloc(k.nlen);
	hit = body_search(m, m->root, &k);
	g_free(k.carry);
	g_free((char *)k.needle);
	return hit;
}

time_t mime_date(struct mime_msg *m, int *tz)
{
	GDateTime *dt;
	time_t t;

	if (m->root->env[F_DATE] == NULL || *m->root->env[F_DATE] == '\0' ||
	    (dt = g_mime_utils_header_decode_date(m->root->env[F_DATE])) == NULL)
		return -1;
	t = (time_t)g_date_time_to_unix(dt);
	if (tz != NULL)
		*tz = (int)(g_date_time_get_utc_offset(dt) / G_TIME_SPAN_MINUTE);
	g_date_time_unref(dt);
	return t;
}

/* ---- search in a cached ENVELOPE ---- */

/* A reader of the IMAP text mime_envelope wrote: NIL, quoted strings,
 * literals and parentheses. */
struct envr {
	const char *p, *end;
};

static void env_skip_sp(struct envr *r)
{
	while (r->p < r->end && *r->p == ' ')
		r->p++;
}

/* An nstring into *out (g_malloc'd, NULL for NIL). Returns 0, or -1. */
static int env_nstring(struct envr *r, char **out)
{
	env_skip_sp(r);
	*out = NULL;
	if (r->end - r->p >= 3 && memcmp(r->p, "NIL", 3) == 0) {
		r->p += 3;
		return 0;
	}
	if (r->p < r->end && *r->p == '"') {
		GString *s = g_string_new(NULL);

		for (r->p++; r->p < r->end && *r->p != '"'; r->p++) {
			if (*r->p == '\\' && r->p + 1 < r->end)
				r->p++;
			g_string_append_c(s, *r->p);
		}
		if (r->p >= r->end) {
			g_string_free(s, TRUE);
			return -1;
		}
		r->p++;
		*out = g_string_free(s, FALSE);
		return 0;
	}
	if (r->p < r->end && *r->p == '{') {
		char *q;
		unsigned long n = strtoul(r->p + 1, &q, 10);

		if (q + 3 > r->end || memcmp(q, "}\r\n", 3) != 0 || n > (size_t)(r->end - q - 3))
			return -1;
		*out = g_strndup(q + 3, n);
		r->p = q + 3 + n;
		return 0;
	}
	return -1;
}

static int env_char(struct envr *r, char c)
{
	env_skip_sp(r);
	if (r->p >= r->end || *r->p != c)
		return -1;
	r->p++;
	return 0;
}

/* An address list as text ("Name <box@host>, ..."), names decoded; NULL
 * for NIL. Returns 0, or -1. */
static int env_addresses(struct envr *r, GString **out)
{
	*out = NULL;
	env_skip_sp(r);
	if (r->end - r->p >= 3 && memcmp(r->p, "NIL", 3) == 0) {
		r->p += 3;
		return 0;
	}
	if (env_char(r, '(') < 0)
		return -1;
	*out = g_string_new(NULL);
	for (;;) {
		char *f[4];
		int bad = 0;

		env_skip_sp(r);
		if (r->p < r->end && *r->p == ')') {
			r->p++;
			return 0;
		}
		if (env_char(r, '(') < 0)
			return -1;
		for (int i = 0; i < 4; i++)
			if (env_nstring(r, &f[i]) < 0) {
				while (i-- > 0)
					g_free(f[i]);
				return -1;
			}
		bad = env_char(r, ')') < 0;
		if (!bad) {
			char *name = f[0] ? g_mime_utils_header_decode_text(NULL, f[0]) : NULL;

			if ((*out)->len > 0)
				g_string_append(*out, ", ");
			if (name != NULL && *name)
				g_string_append_printf(*out, "%s ", name);
			if (f[2] != NULL)
				g_string_append_printf(*out, f[3] ? "<%s@%s>" : "%s:", f[2], f[3]);
			g_free(name);
		}
		for (int i = 0; i < 4; i++)
			g_free(f[i]);
		if (bad)
			return -1;
	}
}

int mime_envelope_contains(const char *env, size_t len, const char *name, const char *needle)
{
	static const char *const fields[] = {
		"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc",
	};
	struct envr r = { env, env + len };
	size_t want;
	char *text = NULL, *folded, *fn;
	GString *list = NULL;
	int hit, rc = -1;

	for (want = 0; want < sizeof fields / sizeof *fields; want++)
		if (g_ascii_strcasecmp(name, fields[want]) == 0)
			break;
	/* Sender and Reply-To copy From when missing: not the header's text */
	if (want < 1 || want >= sizeof fields / sizeof *fields || want == 3 || want == 4)
		return -1;
	init_gmime();
	if (env_char(&r, '(') < 0)
		return -1;
	for (size_t i = 0; i <= want; i++) {
		g_free(text);
		if (list != NULL)
			g_string_free(list, TRUE);
		text = NULL;
		list = NULL;
		if ((i < 2 ? env_nstring(&r, &text) : env_addresses(&r, &list)) < 0)
			goto out;
	}
	if (text == NULL && list == NULL)
		goto out;   /* no such field, or one that did not parse: ask the file */
	if (text != NULL) {
		char *dec = g_mime_utils_header_decode_text(NULL, text);

		folded = fold(dec ? dec : text, strlen(dec ? dec : text));
		g_free(dec);
	} else {
		folded = fold(list->str, list->len);
	}
	fn = fold(needle, strlen(needle));
	hit = strstr(folded, fn) != NULL;
	g_free(fn);
	g_free(folded);
	rc = hit;
out:
	g_free(text);
	if (list != NULL)
		g_string_free(list, TRUE);
	return rc;
}

/* ---- walks for a classifier ---- */

struct hwalk {
	struct mime_msg *m;
	const char *const *names;   /* NULL: every field */
	int (*fn)(void *ctx, const char *name, const char *value);
	void *ctx;
};

static int wanted(const char *const *names, const char *name, size_t nlen)
{
	if (names == NULL)
		return 1;
	for (; *names != NULL; names++)
		if (strlen(*names) == nlen && g_ascii_strncasecmp(*names, name, nlen) == 0)
			return 1;
	return 0;
}

static int header_each(void *ctx, const char *name, size_t nlen, const char *f, size_t flen)
{
	struct hwalk *w = ctx;
	char *n, *raw, *value, *dec, *valid;
	int r;

	if (nlen == 0 || !wanted(w->names, name, nlen))
		return 0;   /* a line that is not a field, or one not asked for */
	n = g_strndup(name, nlen);
	raw = g_strndup(f + nlen, flen - nlen);
	value = unfold(raw[0] == ':' ? raw + 1 : strchr(raw, ':') != NULL ? strchr(raw, ':') + 1 : raw);
	/* most values hold no encoded word and are UTF-8 (ASCII) already:
	 * given as they are; raw 8-bit text goes through GMime's charsets */
	if (strstr(value, "=?") == NULL && g_utf8_validate(value, -1, NULL)) {
		dec = valid = NULL;
	} else {
		dec = g_mime_utils_header_decode_text(w->m->opts, value);
		valid = g_utf8_make_valid(dec != NULL ? dec : value, -1);
	}
	r = w->fn(w->ctx, n, valid != NULL ? valid : value);
	g_free(valid);
	g_free(dec);
	g_free(value);
	g_free(raw);
	g_free(n);
	return r;
}

int mime_each_header(struct mime_msg *m,
                     int (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
	return mime_each_header_of(m, NULL, fn, ctx);
}

int mime_each_header_of(struct mime_msg *m, const char *const *names,
                        int (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
	struct hwalk w = { m, names, fn, ctx };
	char *buf;
	size_t n;
	int r;

	if (read_header(m, m->root, &buf, &n) < 0)
		return -1;
	if (buf == NULL)
		return 0;
	r = each_field(buf, n, header_each, &w);
	g_free(buf);
	return r;
}

/* Text pieces on their way to the caller: a character cut at the end of
 * a block waits for the next block, and what is not UTF-8 is made so. */
struct twalk {
	int (*fn)(void *ctx, int html, const char *utf8, size_t n);
	void *ctx;
	int html;
	char pend[4];
	size_t npend;
};

static int text_piece(void *ctx, const char *s, size_t n)
{
	struct twalk *w = ctx;
	char *chunk, *valid;
	size_t len = w->npend + n, cut;
	int r = 0;

	if (w->npend == 0 && n > 0) {
		/* the common case, text that is UTF-8 already: given as it is */
		cut = complete_utf8(s, n);
		if (n - cut <= sizeof w->pend && g_utf8_validate(s, (gssize)cut, NULL)) {
			w->npend = n - cut;
			memcpy(w->pend, s + cut, w->npend);
			return cut > 0 ? w->fn(w->ctx, w->html, s, cut) != 0 : 0;
		}
	}
	chunk = g_malloc(len + 1);
	memcpy(chunk, w->pend, w->npend);
	memcpy(chunk + w->npend, s, n);
	/* at the end (n 0) nothing more comes: give the cut character too */
	cut = n == 0 ? len : complete_utf8(chunk, len);
	if (len - cut > sizeof w->pend)
		cut = len - sizeof w->pend;
	w->npend = len - cut;
	memcpy(w->pend, chunk + cut, w->npend);
	if (cut > 0) {
		valid = g_utf8_make_valid(chunk, (gssize)cut);
		r = w->fn(w->ctx, w->html, valid, strlen(valid)) != 0;
		g_free(valid);
	}
	g_free(chunk);
	return r;
}

static int text_walk(struct mime_msg *m, const struct ent *t, struct twalk *w)
{
	GMimeFilter *f[2];
	int nf, r, undecodable;

	for (; t != NULL; t = t->next) {
		if (t->kind != K_LEAF) {
			if ((r = text_walk(m, t->child, w)) != 0)
				return r;
			continue;
		}
		if (t->opaque || g_ascii_strcasecmp(t->type, "text") != 0 ||
		    (g_ascii_strcasecmp(t->subtype, "plain") != 0 &&
		     g_ascii_strcasecmp(t->subtype, "html") != 0))
			continue;
		nf = text_filters(t, f, &undecodable);
		if (undecodable)
			continue;   /* an encoding we cannot undo */
		w->html = g_ascii_strcasecmp(t->subtype, "html") == 0;
		w->npend = 0;
		r = filter_range(m, t->bstart, t->end, f, nf, text_piece, w);
		if (r == 0 && w->npend > 0)
			r = text_piece(w, "", 0);
		if (r == 0)
			r = w->fn(w->ctx, w->html, "", 0) != 0;   /* the part ended */
		for (int i = 0; i < nf; i++)
			g_object_unref(f[i]);
		if (r != 0)
			return r;
	}
	return 0;
}

int mime_each_text(struct mime_msg *m,
                   int (*fn)(void *ctx, int html, const char *utf8, size_t n), void *ctx,
                   struct err *e)
{
	struct twalk w = { fn, ctx, 0, { 0 }, 0 };

	if (text_walk(m, m->root, &w) < 0)
		return err_sys(e, EX_TEMPFAIL, "cannot read the message");
	return 0;
}

/* ---- every leaf ---- */

struct pwalk {
	int (*fn)(void *ctx, const uint32_t *part, size_t depth, const char *type,
	          const char *subtype, const char *filename);
	void *ctx;
	uint32_t part[2 * MAX_DEPTH + 8];
};

/* The numbering of resolve: the children of a multipart are 1, 2, ...;
 * the body of a message that is not multipart is its part 1; an
 * embedded message/rfc822 part is numbered through to its own body.
 * Depth is bounded by the scan's MAX_DEPTH, so is the recursion. */
static int part_walk(struct pwalk *w, const struct ent *t, int is_msg, size_t depth)
{
	int r;

	if (depth >= sizeof w->part / sizeof w->part[0])
		return 0;
	if (t->kind == K_MULTI) {
		uint32_t i = 1;

		for (const struct ent *c = t->child; c != NULL; c = c->next, i++) {
			w->part[depth] = i;
			if ((r = part_walk(w, c, 0, depth + 1)) != 0)
				return r;
		}
		return 0;
	}
	if (is_msg) {
		w->part[depth] = 1;
		return part_walk(w, t, 0, depth + 1);
	}
	if (t->kind == K_MSG)
		return t->child != NULL ? part_walk(w, t->child, 1, depth) : 0;
	return w->fn(w->ctx, w->part, depth, t->type, t->subtype, t->fname);
}

int mime_each_part(struct mime_msg *m,
                   int (*fn)(void *ctx, const uint32_t *part, size_t depth, const char *type,
                             const char *subtype, const char *filename),
                   void *ctx)
{
	struct pwalk *w;
	int r;

	if (m->root == NULL)
		return 0;
	w = g_new(struct pwalk, 1);
	w->fn = fn;
	w->ctx = ctx;
	r = part_walk(w, m->root, 1, 0);
	g_free(w);
	return r;
}
