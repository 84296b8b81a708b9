/* pop3d: one POP3 session (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH
 * RFC 5034) for mail-pop3d. main() fills a struct pop3d_config from
 * flags and mail.conf; the session authenticates through lib/auth,
 * serves the mailbox through lib/maildrop and applies deletions only when
 * the client says QUIT. */
#ifndef POP3D_H
#define POP3D_H

#include <stddef.h>

#include "err.h"
#include "net.h"

struct pop3d_config {
	const char *users_file;
	const char *realm;               /* for logins without a domain */
	const char *mail_root;
	unsigned long auth_delay_ms;
	int allow_plaintext;             /* USER/PASS and AUTH without TLS */
	int lock_timeout;                /* seconds, for an mbox */
	unsigned timeout;                /* seconds idle */
	unsigned session_timeout;        /* seconds in all */
	unsigned max_errors;
	const char *remote_ip;
	/* TLS, as in mail-recv: tls_prepare before offering STLS's reply,
	 * starttls for the handshake; NULL when there is no certificate */
	int tls_active;
	char tls_info[128];
	int (*tls_prepare)(void *ctx);
	int (*starttls)(void *ctx, struct net *n, char *info, size_t infosz);
	void *tls_ctx;
	/* called once logged in, before the mailbox is opened: take the
	 * rights the mailbox needs (a root server drops to its owner).
	 * Returns 0, or -1 with e set. */
	int (*become)(void *ctx, const char *mailbox, struct err *e);
	void *become_ctx;
};

/* Serve the session on n until QUIT, the end of the stream, a timeout or
 * too many errors. Returns 0 after QUIT, -1 otherwise. */
int pop3d_run(struct net *n, struct pop3d_config *c);

#endif
