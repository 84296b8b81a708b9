/* auth: the server side of SASL (RFC 4422) for mail-recv, mail-imapd and
 * mail-pop3d: PLAIN (RFC 4616), LOGIN (the draft every client speaks) and
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding.
 *
 * The protocol program decodes each client line from base64, hands the
 * bytes to auth_step and encodes the challenge it gets back; the engine
 * knows nothing of SMTP, IMAP or POP3. A failure is answered only after a
 * delay that doubles with each failure on the connection, so guessing is
 * slow; secrets are wiped as soon as they have been used. */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>

#include "addr.h"
#include "err.h"
#include "passwd.h"

#define AUTH_MSG_MAX 4096   /* longest client message accepted */

enum auth_status {
	AUTH_CONTINUE,   /* send the challenge in out, read another response */
	AUTH_OK,         /* authenticated as a->user */
	AUTH_FAIL,       /* bad credentials or a protocol error: e says which */
	AUTH_TEMPFAIL    /* the users file cannot be read: try again later */
};

enum auth_mech { AUTH_NONE, AUTH_PLAIN, AUTH_LOGIN, AUTH_SCRAM_SHA_256 };

struct auth {
	const char *users_file;
	const char *realm;          /* domain for logins without one, or NULL */
	unsigned long delay_ms;     /* first failure's delay; doubles per failure */
	unsigned failures;
	enum auth_mech mech;
	int step;
	char user[ADDR_MAX + 1];    /* the authenticated account after AUTH_OK */
	char why[200];              /* SCRAM: the reason a pending failure has */
	/* LOGIN */
	char login_user[ADDR_MAX + 1];
	/* SCRAM-SHA-256 */
	int scram_ok;               /* the user exists and has keys */
	struct scram_keys keys;
	char gs2[ADDR_MAX + 16];    /* the client's GS2 header */
	char client_first_bare[AUTH_MSG_MAX + 1];
	char server_first[AUTH_MSG_MAX + 1];
	char nonce[AUTH_MSG_MAX + 1];
	const char *test_nonce;     /* fixed server nonce, for test vectors */
};

/* Ready a for a connection. realm (may be NULL) qualifies logins without
 * a domain, as Dovecot's auth_default_realm; delay_ms is
 * auth_failure_delay. */
void auth_init(struct auth *a, const char *users_file, const char *realm,
               unsigned long delay_ms);

/* The mechanism named name (any case), or AUTH_NONE. */
enum auth_mech auth_mech_named(const char *name);

/* Begin an exchange with mech. */
void auth_start(struct auth *a, enum auth_mech mech);

/* Feed one client response (in, n bytes; have == 0 when the client sent
 * no initial response). On AUTH_CONTINUE the challenge is in out (*outlen
 * bytes, out holds AUTH_MSG_MAX). On AUTH_FAIL and AUTH_TEMPFAIL e holds a
 * reason for the log, not for the client; the failure delay has passed. */
enum auth_status auth_step(struct auth *a, const unsigned char *in, size_t n,
                           int have, unsigned char *out, size_t *outlen,
                           struct err *e);

/* Check a login and password directly (USER/PASS, LOGIN, checkpassword),
 * with the same timing whether or not the account exists. Returns 1 and
 * copies the account address into user (ADDR_MAX + 1 bytes) on success,
 * 0 on bad credentials or a disabled account, -1 with e set (EX_TEMPFAIL,
 * EX_CONFIG) when the answer cannot be known. */
int auth_password(const char *users_file, const char *realm, const char *login,
                  const char *password, char *user, struct err *e);

/* Sleep for a's next failure delay and count the failure. */
void auth_delay(struct auth *a);

/* Wipe a's secrets. */
void auth_end(struct auth *a);

#endif
