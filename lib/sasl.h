/* sasl: a SASL exchange (lib/auth) over a line protocol, as SMTP, POP3
 * and IMAP all carry it: each challenge goes out as a prefix ("334 ",
 * "+ ") and base64, each response comes back as one base64 line, and a
 * line "*" cancels. The protocol code keeps only its own replies. */
#ifndef SASL_H
#define SASL_H

#include "auth.h"
#include "err.h"
#include "net.h"

#define SASL_LINE_MAX 12288   /* a response line: base64 of AUTH_MSG_MAX, and room */

enum sasl_result {
	SASL_OK,              /* authenticated as a->user */
	SASL_FAIL,            /* wrong credentials: e says why, for the log */
	SASL_TEMPFAIL,        /* the users file cannot be read */
	SASL_BAD_INITIAL,     /* the initial response is not base64 */
	SASL_BAD_RESPONSE,    /* a response is not base64 */
	SASL_TOO_LONG,        /* a response line is longer than SASL_LINE_MAX */
	SASL_CANCELLED,       /* the client sent "*" */
	SASL_GONE             /* the client went away or timed out (n->error) */
};

/* Run the exchange a (auth_start done) on n. initial is the initial
 * response from the command line: NULL or "" for none, "=" for an empty
 * one. Secrets are wiped from every buffer used. */
enum sasl_result sasl_exchange(struct auth *a, struct net *n, const char *prefix,
                               const char *initial, struct err *e);

#endif
