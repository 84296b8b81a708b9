#include "config.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sysexits.h>
#include <unistd.h>

#include "dnsbl.h"
#include "io.h"

#define NAME_MAX_TEXT 253     /* a DNS name in text, without the root dot */
#define QUERY_MAX 288         /* header, a 255-byte name, type and class */
#define REPLY_MAX 4096        /* a larger datagram is cut, then refused */
#define RESENDS 2
#define SCORE_MAX 100.0

/* ---- the zone list ---- */

static int is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Is s (length n) a DNS name of letters, digits, '-' and '_' labels of
 * 1 to 63 characters, none starting or ending with '-'? */
static int valid_name(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? s[i] : '.';

		if (c == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		           (c >= '0' && c <= '9') || c == '-' || c == '_') {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

/* A plain decimal ("2", "-1.5", ".5", "+3."), locale-free; strtod would
 * take "inf", "nan" and hex too. Returns 0 with *v set, or -1. */
static int parse_score(const char *s, double *v)
{
	double x = 0, scale = 1;
	int neg = 0, digits = 0;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		x = x * 10 + (*s - '0');
		if (x > SCORE_MAX)
			return -1;
	}
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++, digits++)
			if (scale > 1e-9)
				x += (*s - '0') * (scale /= 10);
	if (*s != '\0' || digits == 0 || x > SCORE_MAX)
		return -1;
	*v = neg ? -x : x;
	return 0;
}

int dnsbl_parse(const char *text, struct dnsbl_list *l, struct err *e)
{
	const char *p = text ? text : "";

	l->n = 0;
	for (;;) {
		char tok[512], esc[128], *eq, *name;
		size_t n, nl;
		double score = DNSBL_DEFAULT_SCORE;

		while (is_sep(*p))
			p++;
		if (*p == '\0')
			return 0;
		for (n = 0; p[n] != '\0' && !is_sep(p[n]); n++)
			;
		err_escape(esc, sizeof esc, p, n);
		if (n >= sizeof tok)
			return err_set(e, EX_CONFIG, "DNSBL zone too long: %s", esc);
		memcpy(tok, p, n);
		tok[n] = '\0';
		p += n;
		name = tok;
		if ((eq = strchr(tok, '=')) != NULL) {
			*eq = '\0';
			if (parse_score(eq + 1, &score) < 0)
				return err_set(e, EX_CONFIG, "bad DNSBL score in \"%s\" (want a decimal from -%g to %g)",
					esc, SCORE_MAX, SCORE_MAX);
		}
		nl = strlen(name);
		if (nl > 1 && name[nl - 1] == '.')
			name[--nl] = '\0';
		if (!valid_name(name, nl))
			return err_set(e, EX_CONFIG, "bad DNSBL zone name in \"%s\"", esc);
		if (nl > DNSBL_ZONE_MAX)
			return err_set(e, EX_CONFIG, "DNSBL zone name longer than %d characters: %s",
				DNSBL_ZONE_MAX, esc);
		for (char *c = name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		for (size_t i = 0; i < l->n; i++)
			if (strcmp(l->zone[i].name, name) == 0)
				return err_set(e, EX_CONFIG, "DNSBL zone given twice: %s", name);
		if (l->n == DNSBL_MAX_ZONES)
			return err_set(e, EX_CONFIG, "more than %d DNSBL zones", DNSBL_MAX_ZONES);
		memcpy(l->zone[l->n].name, name, nl + 1);
		l->zone[l->n].score = score;
		l->n++;
	}
}

/* ---- addresses and names ---- */

static int ipv4_public(const unsigned char *b)
{
	uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];

	return !(b[0] == 0 || b[0] == 10 || b[0] == 127 ||
	         (a & 0xffc00000) == 0x64400000 ||    /* 100.64/10, CGNAT */
	         (a & 0xffff0000) == 0xa9fe0000 ||    /* 169.254/16 */
	         (a & 0xfff00000) == 0xac100000 ||    /* 172.16/12 */
	         (a & 0xffff0000) == 0xc0a80000 ||    /* 192.168/16 */
	         b[0] >= 224);                        /* multicast, reserved */
}

int dnsbl_reverse(const char *ip, char *rev, size_t revsz, struct err *e)
{
	static const char hex[] = "0123456789abcdef";
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned char b[16];
	char buf[INET6_ADDRSTRLEN + 8], esc[80];
	const char *s = ip;
	size_t n;
	int k;

	if (revsz > 0)
		rev[0] = '\0';
	if (strncasecmp(s, "IPv6:", 5) == 0)
		s += 5;
	n = strcspn(s, "%");
	if (n == 0 || n >= sizeof buf)
		goto bad;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strchr(buf, ':') == NULL) {
		if (inet_pton(AF_INET, buf, b) != 1)
			goto bad;
	} else {
		if (inet_pton(AF_INET6, buf, b) != 1)
			goto bad;
		if (memcmp(b, mapped, 12) == 0) {
			memmove(b, b + 12, 4);
		} else {
			static const unsigned char zero[12];
			char *o = rev;

			if (memcmp(b, zero, 12) == 0 ||            /* ::, ::1, ::a.b.c.d */
			    (b[0] & 0xfe) == 0xfc ||               /* fc00::/7, ULA */
			    (b[0] == 0xfe && (b[1] & 0x80)) ||     /* fe80::/10, fec0::/10 */
			    b[0] == 0xff)                          /* multicast */
				return 0;
			if (revsz < 64)
				return err_set(e, EX_SOFTWARE, "dnsbl_reverse: buffer too small");
			for (int i = 15; i >= 0; i--) {
				*o++ = hex[b[i] & 15];
				*o++ = '.';
				*o++ = hex[b[i] >> 4];
				*o++ = i > 0 ? '.' : '\0';
			}
			return 1;
		}
	}
	if (!ipv4_public(b))
		return 0;
	k = snprintf(rev, revsz, "%u.%u.%u.%u", b[3], b[2], b[1], b[0]);
	if (k < 0 || (size_t)k >= revsz) {
		if (revsz > 0)
			rev[0] = '\0';
		return err_set(e, EX_SOFTWARE, "dnsbl_reverse: buffer too small");
	}
	return 1;
bad:
	return err_set(e, EX_DATAERR, "not an IP address: \"%s\"", err_escape(esc, sizeof esc, ip, strlen(ip)));
}

int dnsbl_query_name(const char *rev, const char *zone, char *out, size_t outsz)
{
	int k = snprintf(out, outsz, "%s.%s", rev, zone);

	if (k < 0 || (size_t)k >= outsz || k > NAME_MAX_TEXT) {
		if (outsz > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

/* ---- the name server ---- */

static int parse_port(const char *s, unsigned *port)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 5 || strspn(s, "0123456789") != strlen(s))
		return -1;
	for (; *s; s++)
		v = v * 10 + (unsigned long)(*s - '0');
	if (v == 0 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/* Fill s from a numeric address and port. Returns 0, or -1. */
static int set_server(struct dnsbl_server *s, const char *host, unsigned port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&s->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&s->addr;
	int k;

	memset(s, 0, sizeof *s);
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		s->len = sizeof *sin;
		k = snprintf(s->text, sizeof s->text, "%s:%u", host, port);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		s->len = sizeof *sin6;
		k = snprintf(s->text, sizeof s->text, "[%s]:%u", host, port);
	} else {
		return -1;
	}
	return k < 0 || (size_t)k >= sizeof s->text ? -1 : 0;
}

/* The first name server res_ninit finds in /etc/resolv.conf (or its
 * default, the local host). */
static int server_from_resolv_conf(struct dnsbl_server *s, struct err *e)
{
	struct __res_state rs;
	char host[INET6_ADDRSTRLEN];
	const void *a = NULL;
	int family = 0;
	unsigned port = 53;

	memset(&rs, 0, sizeof rs);
	if (res_ninit(&rs) < 0)
		return err_set(e, EX_TEMPFAIL, "unable to read the resolver configuration");
	if (rs.nscount > 0 && rs.nsaddr_list[0].sin_family == AF_INET) {
		family = AF_INET;
		a = &rs.nsaddr_list[0].sin_addr;
		port = ntohs(rs.nsaddr_list[0].sin_port);
	}
#ifdef __GLIBC__
	else if (rs.nscount > 0 && rs._u._ext.nsaddrs[0] != NULL &&
	         rs._u._ext.nsaddrs[0]->sin6_family == AF_INET6) {
		family = AF_INET6;
		a = &rs._u._ext.nsaddrs[0]->sin6_addr;
		port = ntohs(rs._u._ext.nsaddrs[0]->sin6_port);
	}
#endif
	if (a == NULL || inet_ntop(family, a, host, sizeof host) == NULL) {
		res_nclose(&rs);
		return err_set(e, EX_TEMPFAIL, "no name server in the resolver configuration");
	}
	res_nclose(&rs);
	if (set_server(s, host, port ? port : 53) < 0)
		return err_set(e, EX_TEMPFAIL, "unusable name server in the resolver configuration: %s", host);
	return 0;
}

int dnsbl_server(const char *text, struct dnsbl_server *s, struct err *e)
{
	char host[INET6_ADDRSTRLEN + 1], esc[96];
	const char *colon, *port_text = NULL;
	size_t hl;
	unsigned port = 53;

	if (text == NULL || *text == '\0')
		return server_from_resolv_conf(s, e);
	err_escape(esc, sizeof esc, text, strlen(text));
	if (*text == '[') {
		const char *rb = strchr(text, ']');

		if (rb == NULL || (rb[1] != '\0' && rb[1] != ':'))
			goto bad;
		hl = (size_t)(rb - text - 1);
		if (rb[1] == ':')
			port_text = rb + 2;
		text++;
	} else if ((colon = strchr(text, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
		hl = (size_t)(colon - text);   /* IPv4:PORT */
		port_text = colon + 1;
	} else {
		hl = strlen(text);             /* IPv4, or a bare IPv6 address */
	}
	if (hl == 0 || hl >= sizeof host)
		goto bad;
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (port_text != NULL && parse_port(port_text, &port) < 0)
		goto bad;
	if (set_server(s, host, port) < 0)
		goto bad;
	return 0;
bad:
	return err_set(e, EX_CONFIG, "bad DNS server (want IP, IP:PORT or [IPv6]:PORT): %s", esc);
}

/* ---- queries and replies ---- */

struct query {
	unsigned char q[QUERY_MAX];
	size_t qlen;
	uint16_t id;
	int done;
	char name[NAME_MAX_TEXT + 1];
};

/* An A query for name (checked: labels of 1 to 63 bytes, at most 253 in
 * all), recursion desired. Returns its length. */
static size_t make_query(unsigned char *q, uint16_t id, const char *name)
{
	size_t n = 12;
	const char *p = name;

	memset(q, 0, 12);
	q[0] = (unsigned char)(id >> 8);
	q[1] = (unsigned char)id;
	q[2] = 0x01;   /* RD */
	q[5] = 1;      /* QDCOUNT */
	while (*p) {
		size_t l = strcspn(p, ".");

		q[n++] = (unsigned char)l;
		memcpy(q + n, p, l);
		n += l;
		p += l;
		if (*p == '.')
			p++;
	}
	q[n++] = 0;
	q[n++] = 0;
	q[n++] = ns_t_a;
	q[n++] = 0;
	q[n++] = ns_c_in;
	return n;
}

static __attribute__((format(printf, 2, 3)))
void set_failed(struct dnsbl_result *r, const char *fmt, ...)
{
	va_list ap;

	r->status = DNSBL_FAILED;
	r->answer[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
}

static const char *rcode_name(int rcode, char *buf, size_t sz)
{
	switch (rcode) {
	case ns_r_formerr: return "FORMERR";
	case ns_r_servfail: return "SERVFAIL";
	case ns_r_notimpl: return "NOTIMP";
	case ns_r_refused: return "REFUSED";
	}
	snprintf(buf, sz, "rcode %d", rcode);
	return buf;
}

/* Judge the reply msg (n bytes) to query qr into r. */
static void judge(const unsigned char *msg, size_t n, const struct query *qr, struct dnsbl_result *r)
{
	ns_msg h;
	ns_rr rr;
	char listed[16] = "", code[16] = "", other[16] = "", buf[32];
	int rcode, count;

	if (ns_initparse(msg, (int)n, &h) < 0) {
		set_failed(r, "%s", "malformed reply");
		return;
	}
	if (ns_msg_count(h, ns_s_qd) != 1 || ns_parserr(&h, ns_s_qd, 0, &rr) < 0 ||
	    strcasecmp(ns_rr_name(rr), qr->name) != 0 ||
	    ns_rr_type(rr) != ns_t_a || ns_rr_class(rr) != ns_c_in) {
		set_failed(r, "%s", "reply to another question");
		return;
	}
	if (ns_msg_getflag(h, ns_f_tc)) {
		set_failed(r, "%s", "truncated reply");
		return;
	}
	rcode = ns_msg_getflag(h, ns_f_rcode);
	if (rcode == ns_r_nxdomain) {
		r->status = DNSBL_NOT_LISTED;
		return;
	}
	if (rcode != ns_r_noerror) {
		set_failed(r, "%s", rcode_name(rcode, buf, sizeof buf));
		return;
	}
	count = ns_msg_count(h, ns_s_an);
	for (int i = 0; i < count; i++) {
		const unsigned char *a;
		char *slot;

		if (ns_parserr(&h, ns_s_an, i, &rr) < 0) {
			set_failed(r, "%s", "malformed reply");
			return;
		}
		if (ns_rr_type(rr) != ns_t_a || ns_rr_class(rr) != ns_c_in)
			continue;   /* a CNAME on the way, say */
		if (ns_rr_rdlen(rr) != 4) {
			set_failed(r, "%s", "malformed A record");
			return;
		}
		a = ns_rr_rdata(rr);
		/* 127.255.255.0/24: Spamhaus's "you may not ask" codes */
		slot = a[0] != 127 ? other : a[1] == 255 && a[2] == 255 ? code : listed;
		if (slot[0] == '\0')
			snprintf(slot, 16, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	}
	if (listed[0]) {
		r->status = DNSBL_LISTED;
		memcpy(r->answer, listed, sizeof r->answer);
	} else if (code[0]) {
		set_failed(r, "list error code %s", code);
	} else if (other[0]) {
		set_failed(r, "answer outside 127.0.0.0/8: %s", other);
	} else {
		r->status = DNSBL_NOT_LISTED;   /* NODATA */
	}
}

/* Send every unanswered query. Returns 0, or -1 with errno when the
 * socket fails (a refusal reported for an earlier datagram, say). */
static int send_pending(int fd, const struct query *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (q[i].done)
			continue;
		while (send(fd, q[i].q, q[i].qlen, MSG_NOSIGNAL) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
				break;   /* as good as lost on the way: resent later */
			return -1;
		}
	}
	return 0;
}

/* Read every datagram waiting on fd. Returns how many queries it
 * answered, or -1 with errno when the socket fails. */
static int read_replies(int fd, struct query *q, size_t n, struct dnsbl_result *res)
{
	unsigned char buf[REPLY_MAX];
	int answered = 0;

	for (;;) {
		ssize_t k = recv(fd, buf, sizeof buf, 0);
		uint16_t id;

		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return answered;
			return -1;
		}
		if (k < 12 || !(buf[2] & 0x80))
			continue;   /* not a reply at all */
		id = (uint16_t)(buf[0] << 8 | buf[1]);
		for (size_t i = 0; i < n; i++)
			if (!q[i].done && q[i].id == id) {
				judge(buf, (size_t)k, &q[i], &res[i]);
				q[i].done = 1;
				answered++;
				break;
			}
	}
}

int dnsbl_lookup(const struct dnsbl_list *l, const char *ip,
	const struct dnsbl_server *server, unsigned timeout_ms,
	struct dnsbl_result *res, struct err *e)
{
	struct query q[DNSBL_MAX_ZONES];
	char rev[DNSBL_REV_SIZE];
	uint16_t base;
	size_t pending = 0;
	long long start, end, next;
	int fd, r, resends = 0;

	if (l->n > DNSBL_MAX_ZONES)
		return err_set(e, EX_SOFTWARE, "dnsbl_lookup: more than %d zones", DNSBL_MAX_ZONES);
	for (size_t i = 0; i < l->n; i++) {
		res[i].status = DNSBL_NOT_LISTED;
		res[i].answer[0] = res[i].reason[0] = '\0';
	}
	if ((r = dnsbl_reverse(ip, rev, sizeof rev, e)) <= 0)
		return r < 0 ? -1 : 1;
	if (l->n == 0)
		return 0;
	if (timeout_ms == 0)
		timeout_ms = DNSBL_DEFAULT_TIMEOUT_MS;
	if (getrandom(&base, sizeof base, GRND_NONBLOCK) != (ssize_t)sizeof base)
		base = (uint16_t)(io_now_ms() ^ getpid());
	for (size_t i = 0; i < l->n; i++) {
		q[i].done = 0;
		q[i].id = (uint16_t)(base + i);
		if (dnsbl_query_name(rev, l->zone[i].name, q[i].name, sizeof q[i].name) < 0) {
			set_failed(&res[i], "%s", "query name too long");
			q[i].done = 1;
			continue;
		}
		q[i].qlen = make_query(q[i].q, q[i].id, q[i].name);
		pending++;
	}
	fd = socket(server->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(e, EX_TEMPFAIL, "socket");
	/* connected: replies from anyone but the server are dropped, and a
	 * server that is not there shows as ECONNREFUSED */
	if (connect(fd, (const struct sockaddr *)&server->addr, server->len) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to reach the name server %s", server->text);
		close(fd);
		return -1;
	}
	start = io_now_ms();
	end = start + timeout_ms;
	next = start + timeout_ms / 3;
	if (send_pending(fd, q, l->n) < 0)
		goto sockfail;
	while (pending > 0) {
		long long now = io_now_ms(), until = resends < RESENDS && next < end ? next : end;
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (now >= end)
			break;
		if (now >= until) {   /* a resend is due */
			if (send_pending(fd, q, l->n) < 0)
				goto sockfail;
			resends++;
			next += timeout_ms / 3;
			continue;
		}
		r = poll(&p, 1, (int)(until - now));
		if (r < 0 && errno != EINTR)
			goto sockfail;
		if (r <= 0)
			continue;
		if ((r = read_replies(fd, q, l->n, res)) < 0)
			goto sockfail;
		pending -= (size_t)r;
	}
	for (size_t i = 0; i < l->n; i++)
		if (!q[i].done) {
			res[i].status = DNSBL_FAILED;
			snprintf(res[i].reason, sizeof res[i].reason, "no answer from %s within %u ms",
				server->text, timeout_ms);
		}
	close(fd);
	return 0;
sockfail:
	{
		char why[96];

		snprintf(why, sizeof why, "%s: %s", server->text, strerror(errno));
		for (size_t i = 0; i < l->n; i++)
			if (!q[i].done)
				set_failed(&res[i], "%s", why);
	}
	close(fd);
	return 0;
}

double dnsbl_points(const struct dnsbl_list *l, const struct dnsbl_result *res)
{
	double sum = 0;

	for (size_t i = 0; i < l->n; i++)
		if (res[i].status == DNSBL_LISTED)
			sum += l->zone[i].score;
	return sum;
}

/* ---- the Received: field mail-recv writes ---- */

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int dnsbl_received_ip(const char *value, size_t len, char *ip, size_t ipsz)
{
	static const char marker[] = "(mail-toolkit)";
	const char *p = value, *end = value + len, *m, *rb;
	char buf[INET6_ADDRSTRLEN + 8], rev[DNSBL_REV_SIZE];
	struct err e;
	size_t n;

	if (ipsz > 0)
		ip[0] = '\0';
	/* "by HOST (mail-toolkit)": the marker after a by clause */
	m = memmem(value, len, marker, sizeof marker - 1);
	if (m == NULL || memmem(value, (size_t)(m - value), "by ", 3) == NULL)
		return -1;
	while (p < end && is_ws(*p))
		p++;
	if (end - p < 5 || strncasecmp(p, "from", 4) != 0 || !is_ws(p[4]))
		return -1;
	p += 4;
	/* HELO: one word, no blanks or parentheses (mail-recv replaced
	 * them), but perhaps "[1.2.3.4]" */
	while (p < end && is_ws(*p))
		p++;
	while (p < end && !is_ws(*p) && *p != '(')
		p++;
	while (p < end && is_ws(*p))
		p++;
	/* "(HOST [IP])": HOST is a plain name or "unknown" */
	if (p == end || *p++ != '(')
		return -1;
	while (p < end && !is_ws(*p) && *p != '[' && *p != ')')
		p++;
	while (p < end && is_ws(*p))
		p++;
	if (p == end || *p++ != '[')
		return -1;
	rb = memchr(p, ']', (size_t)(end - p));
	if (rb == NULL || rb + 1 >= end || rb[1] != ')' || rb > m)
		return -1;
	n = (size_t)(rb - p);
	if (n == 0 || n >= sizeof buf || n >= ipsz)
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (dnsbl_reverse(buf, rev, sizeof rev, &e) < 0)
		return -1;
	memcpy(ip, buf, n + 1);
	return 0;
}
