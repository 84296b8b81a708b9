/* smtpd: the server side of one SMTP session (RFC 5321 with ESMTP
 * extensions), for mail-recv. main() fills a struct smtpd_config from
 * flags and mail.conf and calls smtpd_run on a connection; everything the
 * session decides is here, so tests can drive it.
 *
 * Replies are queued and flushed only when the client has nothing more in
 * flight (RFC 2920 pipelining). DATA ends only at CRLF "." CRLF: a bare LF
 * or CR in the data never ends it, and by default makes the message be
 * refused (554 5.6.0) once it has ended, so that no reading of the stream
 * can find a second message in it (SMTP smuggling). */
#ifndef SMTPD_H
#define SMTPD_H

#include <stddef.h>
#include <stdint.h>

#include "alias.h"
#include "net.h"

struct smtpd_config {
	const char *hostname;         /* in the greeting and Received: */
	const char *queue_dir;        /* hand-off into the queue ... */
	char *const *deliver;         /* ... or run this argv per recipient */
	struct resolver *resolver;    /* local domains, users and aliases */
	const char *users_file;       /* for AUTH */
	const char *realm;            /* AUTH logins without a domain */
	unsigned long auth_delay_ms;
	uint64_t max_size;            /* bytes; SIZE advertised */
	unsigned max_rcpt;
	unsigned max_errors;          /* bad commands before 421 */
	unsigned line_limit;          /* DATA line length, CRLF excluded */
	unsigned session_timeout;     /* seconds for the whole session */
	int normalize_newlines;       /* bare CR/LF: 1 normalise, 0 refuse */
	int relay_client;             /* this client may relay (RELAYCLIENT, CIDR) */
	int submission;               /* AUTH required; sender must be the user's */
	int auth_plaintext;           /* offer AUTH without TLS */
	const char *remote_ip;
	const char *remote_host;      /* reverse DNS as tcpserver found it, or NULL */
	/* TLS, provided by lib/tls.c through main (NULL: no STARTTLS):
	 * tls_prepare loads what TLS needs (before the 220), starttls runs
	 * the handshake. Each returns 0, or -1 having logged why. */
	int (*tls_prepare)(void *ctx);
	int (*starttls)(void *ctx, struct net *n, char *info, size_t infosz);
	void *tls_ctx;
	int tls_active;               /* implicit TLS (--tls): on from the start */
	char tls_info[128];           /* "TLS1.3 with cipher ..." for Received: */
};

/* Serve the session on n until QUIT, end of stream, timeout or too many
 * errors. Logs one line per transaction and per refused command on
 * stderr. Returns 0 after a QUIT, 1 otherwise. */
int smtpd_run(struct net *n, struct smtpd_config *c);

#endif
