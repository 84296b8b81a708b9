#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "clamd.h"
#include "io.h"

#define CHUNK 65536
#define REPLY_MAX 1024

/* Wait up to ms for events on fd, across EINTR. Returns the revents,
 * 0 on a timeout (errno ETIMEDOUT), -1 on an error. */
static int wait_fd(int fd, short events, unsigned ms)
{
	long long end = io_now_ms() + ms;
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		long long left = end - io_now_ms();
		int r;

		if (left < 0)
			left = 0;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return p.revents;
		if (r == 0) {
			errno = ETIMEDOUT;
			return 0;
		}
		if (errno != EINTR)
			return -1;
	}
}

/* Connect socket fd to sa without blocking longer than ms. Returns 0, or
 * -1 with errno set. */
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len, unsigned ms)
{
	int soerr = 0;
	socklen_t sl = sizeof soerr;

	if (connect(fd, sa, len) == 0)
		return 0;
	/* EAGAIN, a Unix socket's full listen queue, is a busy clamd: fail */
	if (errno != EINPROGRESS && errno != EINTR)
		return -1;
	if (wait_fd(fd, POLLOUT, ms) <= 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return -1;
	if (soerr != 0) {
		errno = soerr;
		return -1;
	}
	return 0;
}

static int open_unix(const char *path, unsigned ms, struct err *e)
{
	struct sockaddr_un sun;
	size_t n = strlen(path);
	int fd;

	if (n >= sizeof sun.sun_path)
		return err_set(e, EX_USAGE, "clamd socket path too long: %s", path);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(e, EX_TEMPFAIL, "socket");
	if (connect_within(fd, (struct sockaddr *)&sun, sizeof sun, ms) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to connect to clamd at %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Split "host:port" or "[v6]:port" into host and port. Returns 0, -1. */
static int split_hostport(const char *address, char *host, size_t hostsz,
	char *port, size_t portsz)
{
	const char *h = address, *colon;
	size_t hl;

	if (*address == '[') {
		const char *close = strchr(address, ']');

		if (!close || close[1] != ':')
			return -1;
		h = address + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strchr(address, ':');
		if (!colon || strchr(colon + 1, ':'))
			return -1;   /* none, or a bare IPv6 address */
		hl = (size_t)(colon - address);
	}
	if (hl == 0 || hl >= hostsz || colon[1] == '\0' ||
	    strlen(colon + 1) >= portsz || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, colon + 1, strlen(colon + 1) + 1);
	return 0;
}

static int open_tcp(const char *address, unsigned ms, struct err *e)
{
	char host[256], port[8];
	struct addrinfo hints, *res, *ai;
	int fd = -1, r, saved = ECONNREFUSED;

	if (split_hostport(address, host, sizeof host, port, sizeof port) < 0)
		return err_set(e, EX_USAGE, "bad clamd address (want /socket, host:port or [v6]:port): %s", address);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0)
		return err_set(e, EX_TEMPFAIL, "unable to resolve clamd host %s: %s", host, gai_strerror(r));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect_within(fd, ai->ai_addr, ai->ai_addrlen, ms) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = saved;
		return err_sys(e, EX_TEMPFAIL, "unable to connect to clamd at %s", address);
	}
	return fd;
}

static int clamd_open(const char *address, unsigned ms, struct err *e)
{
	if (!address || !*address)
		return err_set(e, EX_USAGE, "no clamd address");
	return *address == '/' ? open_unix(address, ms, e) : open_tcp(address, ms, e);
}

/* Send all n bytes. Returns 0; 1 when clamd has spoken or closed before
 * all was sent (its reply says why); -1 with errno on an error or timeout. */
static int send_all(int fd, const void *buf, size_t n, unsigned ms)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		int ev;

		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EPIPE || errno == ECONNRESET))
			return 1;
		if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		/* clamd reading no more and answering instead: the size limit */
		ev = wait_fd(fd, POLLOUT | POLLIN, ms);
		if (ev <= 0)
			return -1;
		if (ev & (POLLIN | POLLHUP | POLLERR))
			return 1;
	}
	return 0;
}

/* Read clamd's reply, ended by a NUL, into buf (size sz). Returns its
 * length, or -1 with e set. */
static int read_reply(int fd, char *buf, size_t sz, unsigned ms, struct err *e)
{
	size_t len = 0;

	for (;;) {
		ssize_t k = recv(fd, buf + len, sz - 1 - len, 0);

		if (k > 0) {
			char *nul = memchr(buf + len, '\0', (size_t)k);

			len += (size_t)k;
			if (nul)
				return (int)(nul - buf);
			if (len == sz - 1)
				return err_set(e, EX_TEMPFAIL, "clamd protocol error: reply too long");
			continue;
		}
		if (k == 0) {
			char esc[128];

			buf[len] = '\0';
			if (len == 0)
				return err_set(e, EX_TEMPFAIL, "clamd closed the connection without a reply");
			return err_set(e, EX_TEMPFAIL, "clamd protocol error: unterminated reply \"%s\"",
				err_escape(esc, sizeof esc, buf, len));
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return err_sys(e, EX_TEMPFAIL, "unable to read from clamd");
		if (wait_fd(fd, POLLIN, ms) <= 0)
			return err_sys(e, EX_TEMPFAIL, "unable to read from clamd");
	}
}

/* Keep the printable ASCII of the untrusted name s (length n). */
static void copy_signature(char *out, size_t outsz, const char *s, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < n && j + 1 < outsz; i++)
		if (s[i] >= 0x20 && s[i] <= 0x7e)
			out[j++] = s[i];
	out[j] = '\0';
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Make sense of an INSTREAM reply of length n; complete says whether the
 * whole message was sent. */
static int parse_reply(const char *reply, size_t n, int complete,
	struct clamd_result *r, struct err *e)
{
	static const char prefix[] = "stream: ";
	size_t pl = sizeof prefix - 1;
	char esc[256];

	err_escape(esc, sizeof esc, reply, n);
	if (strstr(reply, "size limit exceeded")) {
		err_set(e, EX_DATAERR, "message larger than clamd's StreamMaxLength: not scanned");
		return CLAMD_TOOBIG;
	}
	if (n > pl && memcmp(reply, prefix, pl) == 0) {
		const char *s = reply + pl;
		size_t sl = n - pl;

		if (sl == 2 && memcmp(s, "OK", 2) == 0) {
			if (!complete)
				return err_set(e, EX_TEMPFAIL, "clamd protocol error: \"%s\" before the end of the message", esc);
			r->infected = 0;
			r->signature[0] = '\0';
			return 0;
		}
		if (ends_with(s, sl, " FOUND") && sl > 6) {
			copy_signature(r->signature, sizeof r->signature, s, sl - 6);
			if (r->signature[0] == '\0')
				memcpy(r->signature, "unnamed", sizeof "unnamed");
			r->infected = 1;
			return 0;
		}
	}
	if (ends_with(reply, n, " ERROR"))
		return err_set(e, EX_TEMPFAIL, "clamd: %s", esc);
	return err_set(e, EX_TEMPFAIL, "clamd protocol error: unexpected reply \"%s\"", esc);
}

int clamd_scan(const char *address, int fd, unsigned timeout_ms,
	struct clamd_result *r, struct err *e)
{
	static const char cmd[] = "zINSTREAM";   /* sent with its NUL */
	static const unsigned char end[4];
	unsigned char *chunk;
	char reply[REPLY_MAX];
	int s, st = 0, complete = 0, n, ret;

	r->infected = 0;
	r->signature[0] = '\0';
	if ((chunk = malloc(4 + CHUNK)) == NULL)
		return err_sys(e, EX_TEMPFAIL, "malloc");
	if ((s = clamd_open(address, timeout_ms, e)) < 0) {
		free(chunk);
		return -1;
	}
	st = send_all(s, cmd, sizeof cmd, timeout_ms);
	while (st == 0) {
		ssize_t k;

		/* clamd speaking before the end of the stream: a refusal, or
		 * a verdict on part of the message only */
		if (wait_fd(s, POLLIN, 0) > 0) {
			st = 1;
			break;
		}
		k = io_read(fd, chunk + 4, CHUNK);

		if (k < 0) {
			int code = err_code_for_errno(errno);

			err_sys(e, code, "unable to read the message");
			goto fail;
		}
		if (k == 0) {
			st = send_all(s, end, sizeof end, timeout_ms);
			complete = st == 0;
			break;
		}
		chunk[0] = (unsigned char)((uint32_t)k >> 24);
		chunk[1] = (unsigned char)((uint32_t)k >> 16);
		chunk[2] = (unsigned char)((uint32_t)k >> 8);
		chunk[3] = (unsigned char)k;
		st = send_all(s, chunk, 4 + (size_t)k, timeout_ms);
	}
	if (st < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to send to clamd");
		goto fail;
	}
	if ((n = read_reply(s, reply, sizeof reply, timeout_ms, e)) < 0)
		goto fail;
	ret = parse_reply(reply, (size_t)n, complete, r, e);
	close(s);
	free(chunk);
	return ret;
fail:
	close(s);
	free(chunk);
	return -1;
}

int clamd_ping(const char *address, unsigned timeout_ms, struct err *e)
{
	static const char cmd[] = "zPING";
	char reply[REPLY_MAX], esc[128];
	int s, n;

	if ((s = clamd_open(address, timeout_ms, e)) < 0)
		return -1;
	if (send_all(s, cmd, sizeof cmd, timeout_ms) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to send to clamd");
		close(s);
		return -1;
	}
	n = read_reply(s, reply, sizeof reply, timeout_ms, e);
	close(s);
	if (n < 0)
		return -1;
	if (strcmp(reply, "PONG") != 0)
		return err_set(e, EX_TEMPFAIL, "clamd protocol error: PING answered \"%s\"",
			err_escape(esc, sizeof esc, reply, (size_t)n));
	return 0;
}
