/* net: one network connection, read on one descriptor and written on
 * another (tcpserver and inetd give fds 0 and 1), buffered both ways, with
 * a deadline on every wait and a limit on every line. The bytes go through
 * a transport, plain read/write until TLS replaces it (lib/tls.c), so the
 * protocol code never knows which is in use.
 *
 * The input buffer is visible (net_pending) because SMTP and IMAP need to
 * know whether the client has pipelined more commands: replies are flushed
 * only when it has not, and input sent ahead of STARTTLS is thrown away. */
#ifndef NET_H
#define NET_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define NET_BUFSIZE 16384

struct net_transport {
	/* read or write like read(2)/write(2): -1 with errno (EAGAIN when it
	 * would block), 0 from read at the end of the stream */
	ssize_t (*read)(void *ctx, void *buf, size_t n);
	ssize_t (*write)(void *ctx, const void *buf, size_t n);
	/* bytes the transport holds already decoded (TLS records), or 0 */
	size_t (*pending)(void *ctx);
	void *ctx;
};

struct net {
	int rfd, wfd;
	unsigned timeout_ms;            /* for each wait on the peer */
	time_t deadline;                /* for the whole connection; 0: none */
	struct net_transport t;
	int eof;                        /* the peer closed its side */
	int error;                      /* first errno (ETIMEDOUT on a timeout) */
	size_t inpos, inlen;
	size_t outlen;
	unsigned char in[NET_BUFSIZE];
	unsigned char out[NET_BUFSIZE];
};

/* Ready n on rfd and wfd, made non-blocking, with plain reads and writes.
 * Every wait ends after timeout_ms, and every read fails once n->deadline
 * (set it to bound the whole connection) has passed: a client that
 * trickles one byte at a time cannot hold the connection forever. Both
 * fail with n->error = ETIMEDOUT. */
void net_init(struct net *n, int rfd, int wfd, unsigned timeout_ms);

/* Use transport t from now on (after a TLS handshake). */
void net_set_transport(struct net *n, const struct net_transport *t);

/* Read one line, ended by LF, into line, which holds max + 2 bytes: at
 * most max are kept, the CR before the LF and the LF removed. Returns the line's length; -1 at
 * the end of the stream or on an error or timeout (n->error says which,
 * 0 for a clean end); -2 when the line was longer than max: the whole
 * line has been read and dropped. *bare_cr is set (when not NULL) when the
 * line held a CR anywhere but before its LF; *nul when it held a NUL. */
long net_getline(struct net *n, char *line, size_t max, int *bare_cr, int *nul);

/* Read up to max bytes, waiting for at least one. Returns the count, 0 at
 * the end of the stream, -1 on an error or timeout. */
ssize_t net_read(struct net *n, void *buf, size_t max);

/* Point *p at the bytes received and not consumed, waiting for some when
 * there are none. Returns their count, 0 at the end of the stream, -1 on
 * an error or timeout. They stay unconsumed until net_consume: a reader
 * that stops mid-buffer (the end of DATA) leaves the rest for the next. */
ssize_t net_peek(struct net *n, const unsigned char **p);
void net_consume(struct net *n, size_t k);

/* Bytes received and not yet consumed: the client pipelined. */
size_t net_pending(struct net *n);

/* Throw away the bytes received and not consumed; returns how many. */
size_t net_discard(struct net *n);

/* Queue bytes for the peer; sent by net_flush, or when the buffer fills. */
void net_write(struct net *n, const void *p, size_t len);
void net_printf(struct net *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Send what is queued. Returns 0, or -1 (n->error set). */
int net_flush(struct net *n);

/* Is the address ip (IPv4 or IPv6, text) inside cidr ("192.0.2.0/24",
 * "2001:db8::/32", or a single address)? 0 for no or for malformed input. */
int net_cidr_match(const char *ip, const char *cidr);

/* The client's address, as text, into ip: $TCPREMOTEIP (tcpserver),
 * else getpeername(0), else "unknown". */
void net_peer(char *ip, size_t ipsz);

/* Is cidr well-formed (an address, or an address and a prefix length)? */
int net_cidr_valid(const char *cidr);

#endif
