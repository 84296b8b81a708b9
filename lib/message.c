#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "io.h"
#include "message.h"

/* Header-section states: one header line at a time. */
enum hstate {
	H_BOL,        /* at the start of a header line */
	H_NAME,       /* collecting a field name into hold[] */
	H_NAMEWS,     /* blanks between a field name and its colon (obs syntax) */
	H_FIRSTFROM,  /* first line began "From ": envelope line or "From :"? */
	H_PASS,       /* copying the rest of the line */
	H_SKIP,       /* dropping the rest of the line */
	H_DT,         /* copying a value to remember (Delivered-To:, X-Spam-Flag:) */
	H_BODY        /* past the header section */
};

enum field { F_OTHER, F_SKIP, F_DT, F_SPAM };

/* mboxrd quoting states, at the output side. */
enum qstate { Q_BOL, Q_GT, Q_FROM, Q_MID };

#define HOLD_MAX 1000   /* RFC 5322 line limit: a longer "name" is no name */
#define DT_MAX 1024     /* longer Delivered-To values cannot match an address */

struct copier {
	const struct msg_opts *o;
	struct io_out out;
	uint64_t lines;
	char last;
	enum qstate q;
	size_t qk;           /* bytes of "From " matched in Q_FROM */
	enum hstate h;
	enum field field;
	int first_line;
	int seen_received;   /* a Received: field was above: the message travelled */
	int loop;
	int spam_flag;       /* the top header has X-Spam-Flag: YES */
	int pending_cr;
	size_t holdlen;
	char hold[HOLD_MAX];
	size_t dtlen;
	int dt_overflow;
	char dt[DT_MAX];
};

static const char from_[] = "From ";

static void out_raw(struct copier *c, const char *p, size_t n)
{
	if (n == 0)
		return;
	io_out_write(&c->out, p, n);
	for (const char *nl = p; (nl = memchr(nl, '\n', (size_t)(p + n - nl))) != NULL; nl++)
		c->lines++;
	c->last = p[n - 1];
}

/* Emit one byte of message text, quoting ^>*From  for mboxrd. Adding the
 * '>' after a run of '>' is the same as adding it before, so only the
 * "From " after the run needs holding back. */
static void emit(struct copier *c, char ch)
{
	if (c->o->mboxrd) {
		switch (c->q) {
		case Q_BOL:
		case Q_GT:
			if (ch == '>') {
				out_raw(c, &ch, 1);
				c->q = Q_GT;
				return;
			}
			if (ch == 'F') {
				c->q = Q_FROM;
				c->qk = 1;
				return;
			}
			break;
		case Q_FROM:
			if (ch == from_[c->qk]) {
				if (++c->qk == sizeof from_ - 1) {
					out_raw(c, ">", 1);
					out_raw(c, from_, c->qk);
					c->q = Q_MID;
				}
				return;
			}
			out_raw(c, from_, c->qk);
			break;
		case Q_MID:
			break;
		}
		c->q = ch == '\n' ? Q_BOL : Q_MID;
	}
	out_raw(c, &ch, 1);
}

static void emit_str(struct copier *c, const char *s)
{
	while (*s != '\0')
		emit(c, *s++);
}

/* Nonzero when the address s (possibly in <>, surrounded by blanks, n bytes)
 * names the same mailbox as addr, compared case-insensitively. */
static int same_address(const char *s, size_t n, const char *addr)
{
	size_t alen;

	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
		n--;
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s++;
		n -= 2;
	}
	alen = strlen(addr);
	if (alen >= 2 && addr[0] == '<' && addr[alen - 1] == '>') {
		addr++;
		alen -= 2;
	}
	return n == alen && n > 0 && strncasecmp(s, addr, n) == 0;
}

/* A Delivered-To: for our recipient is a loop only below a Received:
 * field: one above every Received: was added on this hop by the program
 * that runs us (Postfix local(8), qmail-local). */
static void end_field(struct copier *c)
{
	if (c->field == F_DT && !c->dt_overflow && c->seen_received &&
	    same_address(c->dt, c->dtlen, c->o->delivered_to))
		c->loop = 1;
	if (c->field == F_SPAM && !c->dt_overflow) {
		const char *v = c->dt;
		size_t n = c->dtlen;

		while (n > 0 && (*v == ' ' || *v == '\t'))
			v++, n--;
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n == 3 && strncasecmp(v, "YES", 3) == 0)
			c->spam_flag = 1;
	}
	c->field = F_OTHER;
}

static void flush_hold(struct copier *c)
{
	for (size_t i = 0; i < c->holdlen; i++)
		emit(c, c->hold[i]);
	c->holdlen = 0;
}

/* The line being collected is not a header field: the body starts here. */
static void to_body(struct copier *c, char ch)
{
	end_field(c);
	flush_hold(c);
	c->h = H_BODY;
	emit(c, ch);
}

static void field_colon(struct copier *c)
{
	size_t n = c->holdlen;

	while (n > 0 && (c->hold[n - 1] == ' ' || c->hold[n - 1] == '\t'))
		n--;
	c->field = F_OTHER;
	if (n == 8 && strncasecmp(c->hold, "Received", 8) == 0)
		c->seen_received = 1;
	if (n == 11 && strncasecmp(c->hold, "Return-Path", 11) == 0 && c->o->return_path != NULL)
		c->field = F_SKIP;
	else if (n == 12 && strncasecmp(c->hold, "Delivered-To", 12) == 0 && c->o->delivered_to != NULL)
		c->field = F_DT;
	else if (n == 11 && strncasecmp(c->hold, "X-Spam-Flag", 11) == 0)
		c->field = F_SPAM;
	if (c->field == F_SKIP) {
		c->holdlen = 0;
		c->h = H_SKIP;
		return;
	}
	flush_hold(c);
	emit(c, ':');
	c->dtlen = 0;
	c->dt_overflow = 0;
	c->h = c->field == F_DT || c->field == F_SPAM ? H_DT : H_PASS;
}

/* Keep ch back while a field name is read; returns 0 when the name is too
 * long to be one, and the body has started instead. */
static int hold(struct copier *c, char ch)
{
	if (c->holdlen == sizeof c->hold) {
		to_body(c, ch);
		return 0;
	}
	c->hold[c->holdlen++] = ch;
	return 1;
}

static void header_byte(struct copier *c, char ch)
{
again:
	switch (c->h) {
	case H_BOL:
		if (ch == '\n') {
			end_field(c);
			emit(c, ch);
			c->h = H_BODY;
		} else if (ch == ' ' || ch == '\t') {
			if (c->field == F_SKIP) {
				c->h = H_SKIP;
			} else {
				c->h = c->field == F_DT || c->field == F_SPAM ? H_DT : H_PASS;
				goto again;
			}
		} else {
			end_field(c);
			c->h = H_NAME;
			goto name;
		}
		return;
	case H_NAME:
	name:
		if (ch == ':') {
			if (c->holdlen == 0)
				to_body(c, ch);
			else
				field_colon(c);
		} else if (ch == ' ' || ch == '\t') {
			if (!hold(c, ch))
				return;
			if (c->first_line && c->holdlen == 5 && memcmp(c->hold, from_, 5) == 0)
				c->h = H_FIRSTFROM;
			else
				c->h = H_NAMEWS;
		} else if ((unsigned char)ch <= 32 || (unsigned char)ch >= 127) {
			to_body(c, ch);
		} else {
			(void)hold(c, ch);
		}
		return;
	case H_NAMEWS:
		if (ch == ':')
			field_colon(c);
		else if (ch == ' ' || ch == '\t')
			(void)hold(c, ch);
		else
			to_body(c, ch);
		return;
	case H_FIRSTFROM:
		if (ch == ':') {
			field_colon(c);
		} else if (ch == ' ' || ch == '\t') {
			(void)hold(c, ch);
		} else {
			/* An mbox envelope line: not part of the message. */
			c->holdlen = 0;
			c->first_line = 0;
			c->h = ch == '\n' ? H_BOL : H_SKIP;
		}
		return;
	case H_PASS:
		emit(c, ch);
		break;
	case H_SKIP:
		break;
	case H_DT:
		emit(c, ch);
		if (ch != '\n') {
			if (c->dtlen < sizeof c->dt)
				c->dt[c->dtlen++] = ch;
			else
				c->dt_overflow = 1;
		} else if (c->dtlen < sizeof c->dt) {
			/* keep folded values as one: the newline is whitespace */
			c->dt[c->dtlen++] = ' ';
		}
		break;
	case H_BODY:
		emit(c, ch);
		return;
	}
	if (ch == '\n') {
		c->first_line = 0;
		c->h = H_BOL;
	}
}

/* Feed a chunk of raw input: CRLF becomes LF, a bare CR stays. */
static void feed(struct copier *c, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end) {
		if (c->pending_cr) {
			c->pending_cr = 0;
			if (*p == '\n') {
				header_byte(c, *p++);
				continue;
			}
			header_byte(c, '\r');
		}
		if (c->h == H_BODY && (!c->o->mboxrd || c->q == Q_MID)) {
			/* Fast path: copy up to the next CR or LF in one write. */
			const char *s = p;
			while (p < end && *p != '\r' && *p != '\n')
				p++;
			if (p > s) {
				out_raw(c, s, (size_t)(p - s));
				c->q = Q_MID;
			}
			if (p == end)
				break;
		}
		if (*p == '\r') {
			c->pending_cr = 1;
			p++;
			continue;
		}
		header_byte(c, *p++);
		if (c->loop)
			return;
	}
}

int message_copy(int in_fd, int out_fd, const struct msg_opts *o,
                 struct msg_stats *st, struct err *e)
{
	struct copier *c;
	char *buf;
	uint64_t got = 0;
	int rc = 0;

	c = calloc(1, sizeof *c);
	buf = malloc(IO_BUFSIZE);
	if (c == NULL || buf == NULL) {
		free(c);
		free(buf);
		return err_set(e, EX_TEMPFAIL, "out of memory");
	}
	c->o = o;
	c->q = Q_BOL;
	c->h = H_BOL;
	c->first_line = 1;
	c->last = '\n';
	io_out_init(&c->out, out_fd);

	if (o->return_path != NULL) {
		emit_str(c, "Return-Path: <");
		emit_str(c, o->return_path);
		emit_str(c, ">\n");
	}
	if (o->delivered_to != NULL) {
		emit_str(c, "Delivered-To: ");
		emit_str(c, o->delivered_to);
		emit_str(c, "\n");
	}

	for (;;) {
		ssize_t r = io_read(in_fd, buf, IO_BUFSIZE);
		if (r < 0) {
			rc = err_sys(e, EX_TEMPFAIL, "unable to read message");
			goto out;
		}
		if (r == 0)
			break;
		got += (uint64_t)r;
		feed(c, buf, (size_t)r);
		if (c->loop)
			break;
		if (c->out.error != 0)
			break;
	}
	if (c->pending_cr)
		header_byte(c, '\r');
	if (c->h != H_BODY) {
		/* A message that is all header: settle the last line. */
		if (c->h == H_NAME || c->h == H_NAMEWS || c->h == H_FIRSTFROM)
			flush_hold(c);
		end_field(c);
	}
	if (got == 0) {
		/* never mail: in "filter | mail-store" a failed filter looks like this */
		rc = err_set(e, EX_TEMPFAIL, "empty message: no octets on input");
		goto out;
	}
	if (c->loop) {
		rc = err_set(e, EX_DATAERR, "mail loop: message already has Delivered-To: %s",
		             o->delivered_to);
		goto out;
	}
	if (c->q == Q_FROM)
		out_raw(c, from_, c->qk);
	if (c->last != '\n')
		out_raw(c, "\n", 1);
	if (io_out_flush(&c->out) < 0) {
		rc = err_sys(e, EX_TEMPFAIL, "unable to write message");
		goto out;
	}
	st->size = c->out.written;
	st->lines = c->lines;
	st->spam_flag = c->spam_flag;
out:
	free(buf);
	free(c);
	return rc;
}
