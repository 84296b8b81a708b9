#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <poll.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

static ssize_t plain_read(void *ctx, void *buf, size_t n)
{
	return read(((struct net *)ctx)->rfd, buf, n);
}

static ssize_t plain_write(void *ctx, const void *buf, size_t n)
{
	return write(((struct net *)ctx)->wfd, buf, n);
}

void net_init(struct net *n, int rfd, int wfd, unsigned timeout_ms)
{
	int fl;

	memset(n, 0, offsetof(struct net, in));
	n->rfd = rfd;
	n->wfd = wfd;
	n->timeout_ms = timeout_ms;
	n->t.read = plain_read;
	n->t.write = plain_write;
	n->t.pending = NULL;
	n->t.ctx = n;
	/* Non-blocking, so every wait is a poll with the deadline. */
	if ((fl = fcntl(rfd, F_GETFL)) >= 0)
		(void)fcntl(rfd, F_SETFL, fl | O_NONBLOCK);
	if (wfd != rfd && (fl = fcntl(wfd, F_GETFL)) >= 0)
		(void)fcntl(wfd, F_SETFL, fl | O_NONBLOCK);
}

void net_set_transport(struct net *n, const struct net_transport *t)
{
	n->t = *t;
}

/* Wait until fd is ready for events, or the timeout. Returns 0, or -1. */
static int wait_for(struct net *n, int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	long ms = (long)n->timeout_ms;
	int r;

	if (n->deadline) {
		long left = (long)(n->deadline - time(NULL)) * 1000;

		if (left < ms)
			ms = left > 0 ? left : 0;
	}
	do
		r = poll(&p, 1, (int)ms);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		n->error = ETIMEDOUT;
		return -1;
	}
	if (r < 0) {
		n->error = errno;
		return -1;
	}
	return 0;
}

/* Refill the input buffer. Returns bytes added, 0 at the end, -1. */
static ssize_t fill(struct net *n)
{
	ssize_t r;

	if (n->eof || n->error)
		return n->error ? -1 : 0;
	if (n->deadline && time(NULL) >= n->deadline) {
		n->error = ETIMEDOUT;
		return -1;
	}
	if (n->inpos > 0) {
		memmove(n->in, n->in + n->inpos, n->inlen - n->inpos);
		n->inlen -= n->inpos;
		n->inpos = 0;
	}
	for (;;) {
		r = n->t.read(n->t.ctx, n->in + n->inlen, sizeof n->in - n->inlen);
		if (r > 0) {
			n->inlen += (size_t)r;
			return r;
		}
		if (r == 0) {
			n->eof = 1;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			n->error = errno;
			return -1;
		}
		/* Before waiting, send what the peer may be waiting for. */
		if (net_flush(n) < 0 || wait_for(n, n->rfd, POLLIN) < 0)
			return -1;
	}
}

long net_getline(struct net *n, char *line, size_t max, int *bare_cr, int *nul)
{
	size_t len = 0;
	int over = 0, cr = 0;   /* cr: the byte before was a CR */

	if (bare_cr)
		*bare_cr = 0;
	if (nul)
		*nul = 0;
	for (;;) {
		unsigned char *start = n->in + n->inpos, *end = n->in + n->inlen;
		unsigned char *lf = memchr(start, '\n', (size_t)(end - start));
		unsigned char *stop = lf ? lf : end;
		size_t k;

		for (unsigned char *p = start; p < stop; p++) {
			if (cr && bare_cr)
				*bare_cr = 1;   /* a CR followed by something else than LF */
			cr = *p == '\r';
			if (*p == '\0' && nul)
				*nul = 1;
		}
		k = (size_t)(stop - start);
		if (!over && len + k <= max + 1) {   /* +1: room for a CR before LF */
			memcpy(line + len, start, k);
			len += k;
		} else {
			over = 1;
		}
		n->inpos += k;
		if (lf) {
			n->inpos++;
			if (over)
				return -2;
			if (len > 0 && line[len - 1] == '\r')
				len--;
			if (len > max)
				return -2;
			line[len] = '\0';
			return (long)len;
		}
		if (fill(n) <= 0)
			return -1;
	}
}

ssize_t net_read(struct net *n, void *buf, size_t max)
{
	const unsigned char *p;
	ssize_t k = net_peek(n, &p);

	if (k <= 0)
		return k;
	if ((size_t)k > max)
		k = (ssize_t)max;
	memcpy(buf, p, (size_t)k);
	net_consume(n, (size_t)k);
	return k;
}

ssize_t net_peek(struct net *n, const unsigned char **p)
{
	if (n->inpos == n->inlen && fill(n) <= 0)
		return n->error ? -1 : 0;
	*p = n->in + n->inpos;
	return (ssize_t)(n->inlen - n->inpos);
}

void net_consume(struct net *n, size_t k)
{
	n->inpos += k;
}

size_t net_pending(struct net *n)
{
	size_t k = n->inlen - n->inpos;

	if (k == 0 && n->t.pending)
		k = n->t.pending(n->t.ctx);
	if (k == 0 && !n->eof && !n->error) {
		/* bytes in the kernel count too: the client has sent more */
		struct pollfd p = { .fd = n->rfd, .events = POLLIN };

		if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN))
			k = 1;
	}
	return k;
}

size_t net_discard(struct net *n)
{
	size_t k = n->inlen - n->inpos;

	n->inpos = n->inlen = 0;
	return k;
}

void net_write(struct net *n, const void *p, size_t len)
{
	const unsigned char *s = p;

	while (len > 0) {
		size_t k = sizeof n->out - n->outlen;

		if (k == 0) {
			if (net_flush(n) < 0)
				return;
			continue;
		}
		if (k > len)
			k = len;
		memcpy(n->out + n->outlen, s, k);
		n->outlen += k;
		s += k;
		len -= k;
	}
}

void net_printf(struct net *n, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	net_write(n, buf, (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1);
}

int net_flush(struct net *n)
{
	size_t done = 0;

	while (done < n->outlen) {
		ssize_t w;

		if (n->error)
			return -1;
		w = n->t.write(n->t.ctx, n->out + done, n->outlen - done);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_for(n, n->wfd, POLLOUT) < 0)
				return -1;
			continue;
		}
		n->error = w < 0 ? errno : EPIPE;
		return -1;
	}
	n->outlen = 0;
	return n->error ? -1 : 0;
}

/* ip as 16 bytes (IPv4 mapped into IPv6, so one comparison serves both). */
static int ip16(const char *ip, unsigned char out[16], int *v4)
{
	unsigned char a4[4];

	*v4 = 0;
	if (inet_pton(AF_INET6, ip, out) == 1)
		return 0;
	if (inet_pton(AF_INET, ip, a4) != 1)
		return -1;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, a4, 4);
	*v4 = 1;
	return 0;
}

int net_cidr_valid(const char *cidr)
{
	char net[64];
	const char *slash = strchr(cidr, '/');

	if (snprintf(net, sizeof net, "%.*s", (int)(slash ? slash - cidr : (long)strlen(cidr)), cidr)
	    >= (int)sizeof net)
		return 0;
	return net_cidr_match(net, cidr);   /* a network contains its own address */
}

int net_cidr_match(const char *ip, const char *cidr)
{
	unsigned char a[16], b[16];
	char net[64];
	const char *slash = strchr(cidr, '/');
	long bits;
	int v4a, v4b;

	if (snprintf(net, sizeof net, "%.*s", (int)(slash ? slash - cidr : (long)strlen(cidr)), cidr)
	    >= (int)sizeof net || ip16(ip, a, &v4a) < 0 || ip16(net, b, &v4b) < 0)
		return 0;
	bits = v4b ? 32 : 128;
	if (slash) {
		char *end;

		bits = strtol(slash + 1, &end, 10);
		if (*end != '\0' || slash[1] == '\0' || bits < 0 || bits > (v4b ? 32 : 128))
			return 0;
	}
	if (v4b)
		bits += 96;
	for (long i = 0; i < bits; i++)
		if (((a[i / 8] ^ b[i / 8]) >> (7 - i % 8)) & 1)
			return 0;
	return 1;
}

void net_peer(char *ip, size_t ipsz)
{
	const char *env = getenv("TCPREMOTEIP");
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (env != NULL && env[0] != '\0') {
		snprintf(ip, ipsz, "%s", env);
		return;
	}
	snprintf(ip, ipsz, "unknown");
	if (getpeername(0, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, (socklen_t)ipsz);
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, (socklen_t)ipsz);
}
