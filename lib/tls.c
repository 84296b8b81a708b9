#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "file.h"
#include "io.h"
#include "tls.h"

struct tls_server {
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t ticket;          /* data NULL: no session tickets */
	gnutls_session_t session;       /* after a handshake */
	struct net *n;
};

static int initialised;

static int tls_init(struct err *e)
{
	int rc;

	if (initialised)
		return 0;
	rc = gnutls_global_init();
	if (rc < 0)
		return err_set(e, EX_SOFTWARE, "GnuTLS: %s", gnutls_strerror(rc));
	initialised = 1;
	return 0;
}

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

		rc = gnutls_session_ticket_key_generate(&fresh);
		if (rc < 0)
			return err_set(e, EX_TEMPFAIL, "GnuTLS: %s", gnutls_strerror(rc));
		{
			int lockfd = file_lock(path, 10, e);

			if (lockfd < 0) {
				gnutls_free(fresh.data);
				return -1;
			}
			/* another process may have made it while we waited */
			rc = file_read_all(path, 4096, &data, &len, 1, e);
			if (rc == 0 && data == NULL)
				rc = file_replace(path, fresh.data, fresh.size, 0600, NULL, e);
			close(lockfd);
		}
		if (rc < 0) {
			gnutls_free(fresh.data);
			return -1;
		}
		if (data == NULL) {   /* ours is the one on disk */
			key->data = fresh.data;
			key->size = fresh.size;
			return 0;
		}
		gnutls_free(fresh.data);
	}
	if (len < 64) {
		free(data);
		return err_set(e, EX_CONFIG, "%s: a session ticket key has 64 bytes", path);
	}
	key->data = gnutls_malloc(len);
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
	int rc;

	*out = NULL;
	if (tls_init(e) < 0)
		return -1;
	t = calloc(1, sizeof *t);
	if (t == NULL)
		return err_sys(e, EX_TEMPFAIL, "out of memory");
	rc = gnutls_certificate_allocate_credentials(&t->cred);
	if (rc >= 0)
		rc = gnutls_certificate_set_x509_key_file(t->cred, cert, key, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		err_set(e, EX_CONFIG, "certificate %s or key %s: %s", cert, key, gnutls_strerror(rc));
		tls_close(t);
		return -1;
	}
	if (ticket_file != NULL && ticket_key(ticket_file, &t->ticket, e) < 0) {
		tls_close(t);
		return -1;
	}
	*out = t;
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
	ssize_t rc = gnutls_record_recv(t->session, buf, n);

	if (rc >= 0)
		return rc;
	if (rc == GNUTLS_E_PREMATURE_TERMINATION)
		return 0;   /* the client just hung up */
	return map_error(rc);
}

static ssize_t tls_write(void *ctx, const void *buf, size_t n)
{
	struct tls_server *t = ctx;
	ssize_t rc = gnutls_record_send(t->session, buf, n);

	return rc >= 0 ? rc : map_error(rc);
}

static size_t tls_pending(void *ctx)
{
	struct tls_server *t = ctx;

	return gnutls_record_check_pending(t->session);
}

int tls_server_handshake(struct tls_server *t, struct net *n, char *info, size_t infosz,
                         struct err *e)
{
	struct net_transport tr = { tls_read, tls_write, tls_pending, t };
	char *desc;
	int rc;

	t->n = n;
	rc = gnutls_init(&t->session, GNUTLS_SERVER | GNUTLS_NONBLOCK);
	if (rc >= 0)
		rc = gnutls_set_default_priority(t->session);
	if (rc >= 0)
		rc = gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, t->cred);
	if (rc >= 0 && t->ticket.data != NULL)
		rc = gnutls_session_ticket_enable_server(t->session, &t->ticket);
	if (rc < 0)
		return err_set(e, EX_SOFTWARE, "GnuTLS: %s", gnutls_strerror(rc));
	gnutls_certificate_server_set_request(t->session, GNUTLS_CERT_IGNORE);
	gnutls_transport_set_ptr(t->session, t);
	gnutls_transport_set_pull_function(t->session, pull);
	gnutls_transport_set_push_function(t->session, push);
	for (;;) {
		struct pollfd p;

		rc = gnutls_handshake(t->session);
		if (rc == GNUTLS_E_SUCCESS)
			break;
		if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED)
			return err_set(e, EX_PROTOCOL, "TLS handshake: %s", gnutls_strerror(rc));
		/* wait for the direction GnuTLS is blocked on, within the timeout */
		p.fd = gnutls_record_get_direction(t->session) ? n->wfd : n->rfd;
		p.events = gnutls_record_get_direction(t->session) ? POLLOUT : POLLIN;
		do
			rc = poll(&p, 1, (int)n->timeout_ms);
		while (rc < 0 && errno == EINTR);
		if (rc <= 0)
			return err_set(e, EX_PROTOCOL, "TLS handshake: timeout");
	}
	desc = gnutls_session_get_desc(t->session);
	snprintf(info, infosz, "%s", desc ? desc : "TLS");
	gnutls_free(desc);
	net_set_transport(n, &tr);
	return 0;
}

void tls_close(struct tls_server *t)
{
	if (t == NULL)
		return;
	if (t->session) {
		(void)gnutls_bye(t->session, GNUTLS_SHUT_WR);
		gnutls_deinit(t->session);
	}
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	if (t->ticket.data) {
		explicit_bzero(t->ticket.data, t->ticket.size);
		gnutls_free(t->ticket.data);
	}
	free(t);
}
