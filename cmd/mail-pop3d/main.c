/* mail-pop3d: the POP3 server for one connection on fds 0 and 1, as
 * tcpserver or inetd start it (110 with STLS, 995 with --tls).
 *
 * Design: this file turns flags and mail.conf into a struct pop3d_config;
 * lib/pop3d.c runs the session and lib/maildrop.c serves the mailbox.
 * Started as root, the process gives up root once a user has logged in:
 * it becomes the owner of the mailbox (or delivery_user when the mailbox
 * is not there yet), before it reads a byte of mail. */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "alias.h"
#include "cli.h"
#include "conf.h"
#include "err.h"
#include "net.h"
#include "pop3d.h"
#include "tls.h"
#include "users.h"

static const char usage_text[] =
"usage: mail-pop3d [--tls] [--cert FILE --key FILE] [--allow-plaintext]\n"
"                  [--timeout SECONDS] [--session-timeout SECONDS] [--max-errors N]\n"
"                  [--config FILE]\n"
"Serve one POP3 session on standard input and output (tcpserver, inetd).\n"
"  --cert FILE          TLS certificate chain, PEM (default tls_cert): STLS\n"
"  --key FILE           its private key, PEM (default tls_key)\n"
"  --tls                TLS from the first byte (port 995, RFC 8314)\n"
"  --allow-plaintext    USER/PASS and AUTH without TLS (tests, loopback)\n"
"  --timeout SECONDS    idle time before the server hangs up (default 600)\n"
"  --session-timeout S  whole session (default 7200)\n"
"  --max-errors N       refused commands before hanging up (default 20)\n"
"  --config FILE        configuration (default $MAIL_CONF, " SYSCONFDIR "/mail.conf)\n"
"  -h, --help           show this help;  -V, --version  show the version\n"
"Environment: TCPREMOTEIP, MAIL_CONF.\n";

static char ip[64];   /* the peer, for the TLS hooks' log lines */

/* After the login, a server started as root runs as the mailbox's owner
 * (ctx: delivery_user, for a mailbox not there yet). */
static int become(void *ctx, const char *mailbox, struct err *e)
{
	return users_become(mailbox, ctx, e);
}

int main(int argc, char **argv)
{
	enum { OPT_TLS = 256, OPT_CERT, OPT_KEY, OPT_ALLOW_PLAINTEXT, OPT_TIMEOUT,
	       OPT_SESSION_TIMEOUT, OPT_MAX_ERRORS, OPT_CONFIG };
	static const struct option longopts[] = {
		{ "tls", no_argument, NULL, OPT_TLS },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "allow-plaintext", no_argument, NULL, OPT_ALLOW_PLAINTEXT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "session-timeout", required_argument, NULL, OPT_SESSION_TIMEOUT },
		{ "max-errors", required_argument, NULL, OPT_MAX_ERRORS },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct net n;
	struct pop3d_config c;
	struct resolver r;
	struct conf conf;
	struct err e;
	const char *config = NULL, *cert = NULL, *key = NULL, *hostname;
	struct tls_server *tls = NULL;
	unsigned long timeout = 600, lock_timeout;
	int implicit_tls = 0, ch;
	char host[256];

	cli_init("mail-pop3d");
	memset(&c, 0, sizeof c);
	c.max_errors = 20;
	c.session_timeout = 7200;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_TLS: implicit_tls = 1; break;
		case OPT_CERT: cert = optarg; break;
		case OPT_KEY: key = optarg; break;
		case OPT_ALLOW_PLAINTEXT: c.allow_plaintext = 1; break;
		case OPT_TIMEOUT: timeout = cli_number(optarg, 1, 86400, "--timeout"); break;
		case OPT_SESSION_TIMEOUT:
			c.session_timeout = (unsigned)cli_number(optarg, 1, 86400, "--session-timeout");
			break;
		case OPT_MAX_ERRORS: c.max_errors = (unsigned)cli_number(optarg, 1, 1000, "--max-errors"); break;
		case OPT_CONFIG: config = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("mail-pop3d (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION); return 0;
		default: cli_usage("unknown option or missing argument");
		}
	}
	if (optind != argc)
		cli_usage("no arguments expected");
	if (conf_load(&conf, config, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	signal(SIGPIPE, SIG_IGN);

	hostname = conf_get(&conf, CONF_HOSTNAME, NULL);
	if (hostname == NULL) {
		if (gethostname(host, sizeof host - 1) < 0)
			snprintf(host, sizeof host, "localhost");
		host[sizeof host - 1] = '\0';
		hostname = host;
	}
	if (resolver_configure(&r, &conf, hostname, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	c.users_file = r.users_file;
	c.realm = r.domain;
	c.mail_root = conf_get(&conf, CONF_MAIL_ROOT, USERS_MAIL_ROOT_DEFAULT);
	if (conf_get_ms(&conf, CONF_AUTH_FAILURE_DELAY, 2000, &c.auth_delay_ms, &e) < 0 ||
	    conf_get_uint(&conf, CONF_LOCK_TIMEOUT, 30, 86400, &lock_timeout, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	c.lock_timeout = (int)lock_timeout;
	c.timeout = (unsigned)timeout;
	c.become = become;
	c.become_ctx = (void *)conf_get(&conf, CONF_DELIVERY_USER, NULL);
	net_peer(ip, sizeof ip);
	c.remote_ip = ip;

	if (cert == NULL)
		cert = conf_get(&conf, CONF_TLS_CERT, NULL);
	if (key == NULL)
		key = conf_get(&conf, CONF_TLS_KEY, cert);
	if (implicit_tls && cert == NULL)
		cli_usage("--tls needs a certificate (--cert or tls_cert)");
	if (cert != NULL) {
		/* GnuTLS is loaded only when a client asks for TLS; no session
		 * tickets: POP3 clients seldom resume */
		if (tls_server_new(&tls, cert, key, NULL, &e) < 0)
			cli_die(e.code, "%s", e.msg);
		c.tls_prepare = tls_hook_prepare;
		c.starttls = tls_hook_handshake;
		tls_server_set_log(tls, "mail-pop3d", ip);
		c.tls_ctx = tls;
	}

	net_init(&n, 0, 1, (unsigned)timeout * 1000);
	/* a failed implicit handshake is logged by the hook, and ends it */
	if (!implicit_tls || tls_hook_handshake(tls, &n, c.tls_info, sizeof c.tls_info) == 0) {
		c.tls_active = implicit_tls;
		/* how the session ended is in the log; tcpserver wants no status */
		(void)pop3d_run(&n, &c);
	}
	tls_close(tls);
	resolver_free(&r);
	conf_free(&conf);
	return 0;
}
