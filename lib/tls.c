#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "file.h"
#include "io.h"
#include "tls.h"

/* GnuTLS, loaded on first use: the header gives the types and constants,
 * dlsym the functions. A program that never starts TLS never maps the
 * library and its dozen dependencies. */
static struct {
	void *lib;
	__typeof__(gnutls_global_init) *global_init;
	__typeof__(gnutls_strerror) *strerror;
	__typeof__(gnutls_session_ticket_key_generate) *ticket_key_generate;
	__typeof__(gnutls_certificate_allocate_credentials) *cert_alloc;
	__typeof__(gnutls_certificate_set_x509_key_file) *cert_set_key_file;
	__typeof__(gnutls_certificate_free_credentials) *cert_free;
	__typeof__(gnutls_certificate_server_set_request) *cert_set_request;
	__typeof__(gnutls_init) *init;
	__typeof__(gnutls_deinit) *deinit;
	__typeof__(gnutls_set_default_priority) *set_default_priority;
	__typeof__(gnutls_credentials_set) *credentials_set;
	__typeof__(gnutls_session_ticket_enable_server) *ticket_enable_server;
	__typeof__(gnutls_transport_set_ptr) *transport_set_ptr;
	__typeof__(gnutls_transport_set_pull_function) *set_pull;
	__typeof__(gnutls_transport_set_push_function) *set_push;
	__typeof__(gnutls_handshake) *handshake;
	__typeof__(gnutls_record_get_direction) *get_direction;
	__typeof__(gnutls_record_recv) *recv;
	__typeof__(gnutls_record_send) *send;
	__typeof__(gnutls_record_check_pending) *check_pending;
	__typeof__(gnutls_session_get_desc) *session_get_desc;
	__typeof__(gnutls_bye) *bye;
	gnutls_free_function *free;
	gnutls_alloc_function *malloc;
} G;

static int load(struct err *e)
{
	static const struct { const char *name; size_t offset; } syms[] = {
#define SYM(f, field) { #f, offsetof(__typeof__(G), field) }
		SYM(gnutls_global_init, global_init),
		SYM(gnutls_strerror, strerror),
		SYM(gnutls_session_ticket_key_generate, ticket_key_generate),
		SYM(gnutls_certificate_allocate_credentials, cert_alloc),
		SYM(gnutls_certificate_set_x509_key_file, cert_set_key_file),
		SYM(gnutls_certificate_free_credentials, cert_free),
		SYM(gnutls_certificate_server_set_request, cert_set_request),
		SYM(gnutls_init, init),
		SYM(gnutls_deinit, deinit),
		SYM(gnutls_set_default_priority, set_default_priority),
		SYM(gnutls_credentials_set, credentials_set),
		SYM(gnutls_session_ticket_enable_server, ticket_enable_server),
		SYM(gnutls_transport_set_ptr, transport_set_ptr),
		SYM(gnutls_transport_set_pull_function, set_pull),
		SYM(gnutls_transport_set_push_function, set_push),
		SYM(gnutls_handshake, handshake),
		SYM(gnutls_record_get_direction, get_direction),
		SYM(gnutls_record_recv, recv),
		SYM(gnutls_record_send, send),
		SYM(gnutls_record_check_pending, check_pending),
		SYM(gnutls_session_get_desc, session_get_desc),
		SYM(gnutls_bye, bye),
		SYM(gnutls_free, free),
		SYM(gnutls_malloc, malloc),
#undef SYM
	};
	void *lib;
	int rc;

	if (G.lib != NULL)
		return 0;
	lib = dlopen(GNUTLS_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL)
		return err_set(e, EX_UNAVAILABLE, "cannot load %s: %s", GNUTLS_SONAME, dlerror());
	for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
		void *f = dlsym(lib, syms[i].name);

		if (f == NULL) {
			dlclose(lib);
			return err_set(e, EX_UNAVAILABLE, "%s lacks %s", GNUTLS_SONAME, syms[i].name);
		}
		memcpy((char *)&G + syms[i].offset, &f, sizeof f);
	}
	G.lib = lib;
	rc = G.global_init();
	if (rc < 0) {
		err_set(e, EX_SOFTWARE, "GnuTLS: %s", G.strerror(rc));
		G.lib = NULL;
		dlclose(lib);
		return -1;
	}
	return 0;
}

struct tls_server {
	char *cert, *key, *ticket_file;
	int ready;                      /* credentials loaded */
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t ticket;          /* data NULL: no session tickets */
	gnutls_session_t session;       /* after a handshake */
	struct net *n;
	const char *prog, *ip;          /* for the hooks' log lines */
};

/* The ticket key file: read it, or make one (random, written to a
 * temporary file and renamed, so concurrent first starts agree on one). */
static int ticket_key(const char *path, gnutls_datum_t *key, struct err *e)
{
	char *data;
	size_t len;
	int rc;

	if (file_read_all(path, 4096, &data, &len, 1, e) < 0)
		return -1;
	if (data == NULL) {
		gnutls_datum_t fresh;

		rc = G.ticket_key_generate(&fresh);
		if (rc < 0)
			return err_set(e, EX_TEMPFAIL, "GnuTLS: %s", G.strerror(rc));
		{
			int lockfd = file_lock(path, 10, e);

			if (lockfd < 0) {
				(*G.free)(fresh.data);
				return -1;
			}
			/* another process may have made it while we waited */
			rc = file_read_all(path, 4096, &data, &len, 1, e);
			if (rc == 0 && data == NULL)
				rc = file_replace(path, fresh.data, fresh.size, 0600, NULL, e);
			close(lockfd);
		}
		if (rc < 0) {
			(*G.free)(fresh.data);
			return -1;
		}
		if (data == NULL) {   /* ours is the one on disk */
			key->data = fresh.data;
			key->size = fresh.size;
			return 0;
		}
		(*G.free)(fresh.data);
	}
	if (len < 64) {
		free(data);
		return err_set(e, EX_CONFIG, "%s: a session ticket key has 64 bytes", path);
	}
	key->data = (*G.malloc)(len);
	if (key->data == NULL) {
		free(data);
		return err_set(e, EX_TEMPFAIL, "out of memory");
	}
	memcpy(key->data, data, len);
	key->size = (unsigned)len;
	explicit_bzero(data, len);
	free(data);
	return 0;
}

int tls_server_new(struct tls_server **out, const char *cert, const char *key,
                   const char *ticket_file, struct err *e)
{
	struct tls_server *t;

	*out = NULL;
	/* checked now so a typo is a configuration error at once; loaded
	 * only when a client asks for TLS */
	if (access(cert, R_OK) < 0)
		return err_sys(e, EX_CONFIG, "certificate %s", cert);
	if (access(key, R_OK) < 0)
		return err_sys(e, EX_CONFIG, "key %s", key);
	t = calloc(1, sizeof *t);
	if (t == NULL || (t->cert = strdup(cert)) == NULL || (t->key = strdup(key)) == NULL ||
	    (ticket_file && (t->ticket_file = strdup(ticket_file)) == NULL)) {
		tls_close(t);
		return err_sys(e, EX_TEMPFAIL, "out of memory");
	}
	*out = t;
	return 0;
}

int tls_server_prepare(struct tls_server *t, struct err *e)
{
	int rc;

	if (t->ready)
		return 0;
	if (load(e) < 0)
		return -1;
	if (t->cred == NULL && (rc = G.cert_alloc(&t->cred)) < 0)
		return err_set(e, EX_TEMPFAIL, "GnuTLS: %s", G.strerror(rc));
	rc = G.cert_set_key_file(t->cred, t->cert, t->key, GNUTLS_X509_FMT_PEM);
	if (rc < 0)
		return err_set(e, EX_CONFIG, "certificate %s or key %s: %s", t->cert, t->key,
		               G.strerror(rc));
	if (t->ticket_file != NULL && ticket_key(t->ticket_file, &t->ticket, e) < 0)
		return -1;
	t->ready = 1;
	return 0;
}

/* GnuTLS's transport: read and write on the net's descriptors. */
static ssize_t pull(gnutls_transport_ptr_t p, void *buf, size_t n)
{
	struct tls_server *t = p;

	return read(t->n->rfd, buf, n);
}

static ssize_t push(gnutls_transport_ptr_t p, const void *buf, size_t n)
{
	struct tls_server *t = p;

	return write(t->n->wfd, buf, n);
}

static int map_error(ssize_t rc)
{
	if (rc == GNUTLS_E_AGAIN)
		errno = EAGAIN;
	else if (rc == GNUTLS_E_INTERRUPTED)
		errno = EINTR;
	else
		errno = EIO;
	return -1;
}

/* The net's transport over the session. */
static ssize_t tls_read(void *ctx, void *buf, size_t n)
{
	struct tls_server *t = ctx;
	ssize_t rc = G.recv(t->session, buf, n);

	if (rc >= 0)
		return rc;
	if (rc == GNUTLS_E_PREMATURE_TERMINATION)
		return 0;   /* the client just hung up */
	return map_error(rc);
}

static ssize_t tls_write(void *ctx, const void *buf, size_t n)
{
	struct tls_server *t = ctx;
	ssize_t rc = G.send(t->session, buf, n);

	return rc >= 0 ? rc : map_error(rc);
}

static size_t tls_pending(void *ctx)
{
	struct tls_server *t = ctx;

	return G.check_pending(t->session);
}

int tls_server_handshake(struct tls_server *t, struct net *n, char *info, size_t infosz,
                         struct err *e)
{
	struct net_transport tr = { tls_read, tls_write, tls_pending, t };
	char *desc;
	int rc;

	if (tls_server_prepare(t, e) < 0)
		return -1;
	t->n = n;
	rc = G.init(&t->session, GNUTLS_SERVER | GNUTLS_NONBLOCK);
	if (rc >= 0)
		rc = G.set_default_priority(t->session);
	if (rc >= 0)
		rc = G.credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, t->cred);
	if (rc >= 0 && t->ticket.data != NULL)
		rc = G.ticket_enable_server(t->session, &t->ticket);
	if (rc < 0)
		return err_set(e, EX_SOFTWARE, "GnuTLS: %s", G.strerror(rc));
	G.cert_set_request(t->session, GNUTLS_CERT_IGNORE);
	G.transport_set_ptr(t->session, t);
	G.set_pull(t->session, pull);
	G.set_push(t->session, push);
	for (;;) {
		struct pollfd p;

		rc = G.handshake(t->session);
		if (rc == GNUTLS_E_SUCCESS)
			break;
		if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED)
			return err_set(e, EX_PROTOCOL, "TLS handshake: %s", G.strerror(rc));
		/* wait for the direction GnuTLS is blocked on, within the timeout */
		p.fd = G.get_direction(t->session) ? n->wfd : n->rfd;
		p.events = G.get_direction(t->session) ? POLLOUT : POLLIN;
		do
			rc = poll(&p, 1, (int)n->timeout_ms);
		while (rc < 0 && errno == EINTR);
		if (rc <= 0)
			return err_set(e, EX_PROTOCOL, "TLS handshake: timeout");
	}
	desc = G.session_get_desc(t->session);
	snprintf(info, infosz, "%s", desc ? desc : "TLS");
	(*G.free)(desc);
	net_set_transport(n, &tr);
	return 0;
}

void tls_close(struct tls_server *t)
{
	if (t == NULL)
		return;
	free(t->cert);
	free(t->key);
	free(t->ticket_file);
	if (t->session) {
		(void)G.bye(t->session, GNUTLS_SHUT_WR);
		G.deinit(t->session);
	}
	if (t->cred)
		G.cert_free(t->cred);
	if (t->ticket.data) {
		explicit_bzero(t->ticket.data, t->ticket.size);
		(*G.free)(t->ticket.data);
	}
	free(t);
}

void tls_server_set_log(struct tls_server *t, const char *prog, const char *ip)
{
	t->prog = prog;
	t->ip = ip;
}

int tls_hook_prepare(void *ctx)
{
	struct tls_server *t = ctx;
	struct err e;

	if (tls_server_prepare(t, &e) < 0) {
		fprintf(stderr, "%s: ip=%s tls=unavailable error=\"%s\"\n", t->prog ? t->prog : "tls",
		        t->ip ? t->ip : "unknown", e.msg);
		return -1;
	}
	return 0;
}

int tls_hook_handshake(void *ctx, struct net *n, char *info, size_t infosz)
{
	struct tls_server *t = ctx;
	struct err e;

	if (tls_server_handshake(t, n, info, infosz, &e) < 0) {
		fprintf(stderr, "%s: ip=%s tls=failed error=\"%s\"\n", t->prog ? t->prog : "tls",
		        t->ip ? t->ip : "unknown", e.msg);
		return -1;
	}
	return 0;
}
