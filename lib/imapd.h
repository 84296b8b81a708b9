/* imapd: one IMAP session (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1) for
 * mail-imapd. main() fills a struct imapd_config from flags and
 * mail.conf; the session authenticates through lib/auth, serves the
 * user's Maildir++ through lib/imapbox, parses commands with
 * lib/imapread and builds FETCH data with lib/mime. */
#ifndef IMAPD_H
#define IMAPD_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "net.h"

struct imapd_config {
	const char *users_file;
	const char *realm;               /* for logins without a domain */
	const char *mail_root;
	unsigned long auth_delay_ms;
	int allow_plaintext;             /* LOGIN and AUTHENTICATE without TLS */
	unsigned timeout;                /* seconds idle (IDLE included) */
	unsigned max_errors;             /* BAD replies before hanging up */
	uint64_t max_message;            /* APPENDLIMIT, octets */
	const char *remote_ip;
	/* TLS: tls_prepare before STARTTLS's reply, starttls for the
	 * handshake; NULL when there is no certificate */
	int tls_active;
	char tls_info[128];
	int (*tls_prepare)(void *ctx);
	int (*starttls)(void *ctx, struct net *n, char *info, size_t infosz);
	void *tls_ctx;
	/* called once logged in, before the mailbox is opened: take the
	 * rights it needs (a root server drops to its owner). Returns 0, or
	 * -1 with e set. */
	int (*become)(void *ctx, const char *mailbox, struct err *e);
	void *become_ctx;
};

/* Serve the session on n until LOGOUT, the end of the stream, a timeout
 * or too many errors. Returns 0 after LOGOUT, -1 otherwise. */
int imapd_run(struct net *n, struct imapd_config *c);

#endif
