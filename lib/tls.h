/* tls: the one module that talks to GnuTLS. A connection program asks for
 * a server context (certificate, key, the session-ticket key all its
 * processes share) and runs a handshake on a struct net, which then reads
 * and writes through TLS. The descriptors may be pipes or sockets: the
 * transport is read(2)/write(2), not GnuTLS's default recv/send. */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>

#include "err.h"
#include "net.h"

struct tls_server;

/* A server context for cert and key (PEM files, checked readable now)
 * and the ticket key in ticket_file (created with a random key, mode
 * 0600, when missing; NULL: tickets off). Nothing is loaded yet. Returns
 * 0, or -1 with e set (EX_CONFIG for unreadable files). */
int tls_server_new(struct tls_server **t, const char *cert, const char *key,
                   const char *ticket_file, struct err *e);

/* Load GnuTLS, the certificate, key and ticket key, once. Returns 0, or
 * -1 with e set (EX_CONFIG for an unusable certificate or key,
 * EX_UNAVAILABLE when GnuTLS cannot be loaded, EX_TEMPFAIL). */
int tls_server_prepare(struct tls_server *t, struct err *e);

/* Handshake on n as the server (preparing t first when needed), within n's timeout for each wait; on
 * success n reads and writes through TLS and info holds a description of
 * the session ("TLS1.3 ..."). Returns 0, or -1 with e set. */
int tls_server_handshake(struct tls_server *t, struct net *n, char *info, size_t infosz,
                         struct err *e);

/* The program name and client address the hooks below log with. */
void tls_server_set_log(struct tls_server *t, const char *prog, const char *ip);

/* A protocol session's TLS hooks (ctx is the struct tls_server): load
 * what TLS needs, and run the handshake, each failure logged as
 * "PROG: ip=IP tls=unavailable|failed error=...". Return 0 or -1. */
int tls_hook_prepare(void *ctx);
int tls_hook_handshake(void *ctx, struct net *n, char *info, size_t infosz);

/* Send the TLS close alert (best effort) and free the session. */
void tls_close(struct tls_server *t);

#endif
