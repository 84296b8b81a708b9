/* mail-recv: the SMTP server for one connection on fds 0 and 1, as
 * tcpserver, inetd or a systemd socket with Accept=yes start it.
 *
 * Design: this file turns flags, mail.conf and the UCSPI environment into
 * a struct smtpd_config; lib/smtpd.c runs the session, lib/queue.c makes
 * the hand-off durable. The peer comes from TCPREMOTEIP (tcpserver) or
 * getpeername(0); RELAYCLIENT in the environment, as qmail's tcprules set
 * it, or an address in --relay-from lets a client relay. SIGPIPE is
 * ignored so a vanished client is an error return, not a death mid-write. */
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
#include "queue.h"
#include "smtpd.h"
#include "tls.h"

#define DEFAULT_MAX_SIZE (25UL << 20)
#define MAX_RELAY_FROM 64

static const char usage_text[] =
"usage: mail-recv [--submission] [--relay-from CIDR]... [--queue DIR]\n"
"                 [--deliver 'PROGRAM ARGS'] [--hostname NAME] [--max-size BYTES]\n"
"                 [--max-rcpt N] [--timeout SECONDS] [--session-timeout SECONDS]\n"
"                 [--max-errors N] [--line-limit BYTES] [--bare-newline reject|normalize]\n"
"                 [--auth-plaintext] [--cert FILE --key FILE] [--tls] [--config FILE]\n"
"Serve one SMTP session on standard input and output (tcpserver, inetd).\n"
"  --submission         AUTH required before MAIL; senders must be the user's\n"
"  --relay-from CIDR    clients that may relay (also: RELAYCLIENT set)\n"
"  --queue DIR          queue directory (default queue_dir, " QUEUE_DIR_DEFAULT ")\n"
"  --deliver 'P ARGS'   run P once per recipient instead of queueing\n"
"                       (no shell; SENDER and RECIPIENT in the environment)\n"
"  --hostname NAME      name in the greeting and Received: (default: host name)\n"
"  --max-size BYTES     largest message (default max_message_size, 25 MiB)\n"
"  --max-rcpt N         recipients per message (default 1000)\n"
"  --timeout SECONDS    idle time before 421 (default 300)\n"
"  --session-timeout S  whole session (default 3600)\n"
"  --max-errors N       refused commands before 421 (default 20)\n"
"  --line-limit BYTES   longest DATA line, CRLF excluded (default 998)\n"
"  --bare-newline MODE  a bare CR or LF in DATA: reject (default) or normalize\n"
"  --auth-plaintext     offer AUTH without TLS (tests, loopback)\n"
"  --cert FILE          TLS certificate chain, PEM (default tls_cert): STARTTLS\n"
"  --key FILE           its private key, PEM (default tls_key)\n"
"  --tls                TLS from the first byte (port 465, RFC 8314)\n"
"  --config FILE        configuration (default $MAIL_CONF, " SYSCONFDIR "/mail.conf)\n"
"  -h, --help           show this help;  -V, --version  show the version\n"
"Environment: TCPREMOTEIP, TCPREMOTEHOST, RELAYCLIENT, MAIL_CONF.\n";

/* Split "prog arg arg" on blanks into a NULL-terminated argv: no shell,
 * so nothing in it is ever interpreted. */
static char **split_argv(char *s)
{
	char **v = calloc(strlen(s) / 2 + 2, sizeof *v);
	size_t n = 0;

	if (v == NULL)
		cli_die(EX_OSERR, "out of memory");
	for (char *tok = strtok(s, " \t"); tok != NULL; tok = strtok(NULL, " \t"))
		v[n++] = tok;
	if (n == 0)
		cli_usage("--deliver needs a program");
	return v;
}

static char ip[64];   /* the peer, for the TLS hooks' log lines */


int main(int argc, char **argv)
{
	enum {
		OPT_SUBMISSION = 256, OPT_RELAY_FROM, OPT_QUEUE, OPT_DELIVER, OPT_HOSTNAME,
		OPT_MAX_SIZE, OPT_MAX_RCPT, OPT_TIMEOUT, OPT_SESSION_TIMEOUT, OPT_MAX_ERRORS,
		OPT_LINE_LIMIT, OPT_BARE_NEWLINE, OPT_AUTH_PLAINTEXT, OPT_CONFIG, OPT_CERT, OPT_KEY,
		OPT_TLS,
	};
	static const struct option longopts[] = {
		{ "submission", no_argument, NULL, OPT_SUBMISSION },
		{ "relay-from", required_argument, NULL, OPT_RELAY_FROM },
		{ "queue", required_argument, NULL, OPT_QUEUE },
		{ "deliver", required_argument, NULL, OPT_DELIVER },
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
		{ "max-rcpt", required_argument, NULL, OPT_MAX_RCPT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "session-timeout", required_argument, NULL, OPT_SESSION_TIMEOUT },
		{ "max-errors", required_argument, NULL, OPT_MAX_ERRORS },
		{ "line-limit", required_argument, NULL, OPT_LINE_LIMIT },
		{ "bare-newline", required_argument, NULL, OPT_BARE_NEWLINE },
		{ "auth-plaintext", no_argument, NULL, OPT_AUTH_PLAINTEXT },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "tls", no_argument, NULL, OPT_TLS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct net n;
	struct smtpd_config c;
	struct resolver r;
	struct conf conf;
	struct err e;
	const char *config = NULL, *relay[MAX_RELAY_FROM], *hostname = NULL, *queue = NULL,
	           *size_arg = NULL, *cert = NULL, *key = NULL;
	struct tls_server *tls = NULL;
	int implicit_tls = 0, hostname_flag;
	char host[256], *deliver = NULL, **deliver_argv = NULL;
	unsigned long timeout = 300, max_size;
	size_t nrelay = 0, i;
	int ch;

	cli_init("mail-recv");
	memset(&c, 0, sizeof c);
	c.max_rcpt = 1000;
	c.max_errors = 20;
	c.line_limit = 998;
	c.session_timeout = 3600;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_SUBMISSION: c.submission = 1; break;
		case OPT_RELAY_FROM:
			if (nrelay == MAX_RELAY_FROM)
				cli_usage("too many --relay-from");
			if (!net_cidr_valid(optarg))
				cli_usage("--relay-from takes an address or ADDRESS/BITS");
			relay[nrelay++] = optarg;
			break;
		case OPT_QUEUE: queue = optarg; break;
		case OPT_DELIVER: deliver = optarg; break;
		case OPT_HOSTNAME: hostname = optarg; break;
		case OPT_MAX_SIZE: size_arg = optarg; break;
		case OPT_MAX_RCPT: c.max_rcpt = (unsigned)cli_number(optarg, 0, 100000, "--max-rcpt"); break;
		case OPT_TIMEOUT: timeout = cli_number(optarg, 0, 86400, "--timeout"); break;
		case OPT_SESSION_TIMEOUT:
			c.session_timeout = (unsigned)cli_number(optarg, 0, 86400, "--session-timeout");
			break;
		case OPT_MAX_ERRORS: c.max_errors = (unsigned)cli_number(optarg, 0, 1000, "--max-errors"); break;
		case OPT_LINE_LIMIT: c.line_limit = (unsigned)cli_number(optarg, 0, 1000000, "--line-limit"); break;
		case OPT_BARE_NEWLINE:
			if (strcmp(optarg, "reject") == 0)
				c.normalize_newlines = 0;
			else if (strcmp(optarg, "normalize") == 0)
				c.normalize_newlines = 1;
			else
				cli_usage("--bare-newline takes reject or normalize");
			break;
		case OPT_AUTH_PLAINTEXT: c.auth_plaintext = 1; break;
		case OPT_CONFIG: config = optarg; break;
		case OPT_CERT: cert = optarg; break;
		case OPT_KEY: key = optarg; break;
		case OPT_TLS: implicit_tls = 1; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("mail-recv (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION); return 0;
		default: cli_usage("unknown option or missing argument");
		}
	}
	if (optind != argc)
		cli_usage("no arguments expected");
	if (c.max_rcpt == 0 || c.max_errors == 0 || c.line_limit < 78 || timeout == 0 ||
	    c.session_timeout == 0)
		cli_usage("limits must be positive (and --line-limit at least 78)");
	if (conf_load(&conf, config, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	signal(SIGPIPE, SIG_IGN);

	hostname_flag = hostname != NULL;
	if (hostname == NULL)
		hostname = conf_get(&conf, CONF_HOSTNAME, NULL);
	if (hostname != NULL && (hostname[0] == '\0' || strpbrk(hostname, " \t()") != NULL)) {
		if (hostname_flag)
			cli_usage("--hostname must be a name, without blanks");
		cli_die(EX_CONFIG, "the hostname must be a name, without blanks");
	}
	if (hostname == NULL) {
		if (gethostname(host, sizeof host - 1) < 0)
			snprintf(host, sizeof host, "localhost");
		host[sizeof host - 1] = '\0';
		hostname = host;
	}
	c.hostname = hostname;
	c.queue_dir = queue ? queue : conf_get(&conf, CONF_QUEUE_DIR, QUEUE_DIR_DEFAULT);
	if (c.queue_dir[0] != '/') {
		if (queue)
			cli_usage("--queue must be an absolute path");
		cli_die(EX_CONFIG, "the queue directory must be an absolute path");
	}
	if (size_arg != NULL)
		max_size = cli_number(size_arg, 0, 1UL << 40, "--max-size");
	else if (conf_get_uint(&conf, CONF_MAX_MESSAGE_SIZE, DEFAULT_MAX_SIZE, 1UL << 40, &max_size, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	c.max_size = max_size;
	if (deliver)
		c.deliver = deliver_argv = split_argv(deliver);
	if (conf_get_ms(&conf, CONF_AUTH_FAILURE_DELAY, 2000, &c.auth_delay_ms, &e) < 0)
		cli_die(e.code, "%s", e.msg);

	if (resolver_configure(&r, &conf, hostname, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	c.resolver = &r;
	c.users_file = r.users_file;
	c.realm = r.domain;

	net_peer(ip, sizeof ip);
	c.remote_ip = ip;
	{
		/* it goes into Received:, so only what a host name may hold */
		static char rhost[256];
		const char *h = getenv("TCPREMOTEHOST");

		if (h != NULL && h[0] != '\0' && strlen(h) < sizeof rhost &&
		    strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == strlen(h)) {
			snprintf(rhost, sizeof rhost, "%s", h);
			c.remote_host = rhost;
		}
	}
	c.relay_client = getenv("RELAYCLIENT") != NULL;
	{
		const char *from = conf_get(&conf, CONF_RELAY_FROM, NULL);
		char *copy = from ? strdup(from) : NULL;

		for (i = 0; i < nrelay && !c.relay_client; i++)
			c.relay_client = net_cidr_match(ip, relay[i]);
		for (char *tok = copy ? strtok(copy, ", \t") : NULL; tok; tok = strtok(NULL, ", \t")) {
			if (!net_cidr_valid(tok))
				cli_die(EX_CONFIG, "relay_from takes addresses or ADDRESS/BITS");
			c.relay_client = c.relay_client || net_cidr_match(ip, tok);
		}
		free(copy);
	}
	/* with --deliver too: the message waits in its tmp/ while it is handed on */
	if (queue_init(c.queue_dir, &e) < 0)
		cli_die(e.code, "%s", e.msg);

	if (cert == NULL)
		cert = conf_get(&conf, CONF_TLS_CERT, NULL);
	if (key == NULL)
		key = conf_get(&conf, CONF_TLS_KEY, cert);
	if (implicit_tls && cert == NULL)
		cli_usage("--tls needs a certificate (--cert or tls_cert)");
	if (cert != NULL) {
		/* GnuTLS is loaded only when a client asks for TLS */
		char ticket[PATH_MAX];

		snprintf(ticket, sizeof ticket, "%s/tls-ticket.key", c.queue_dir);
		if (tls_server_new(&tls, cert, key, ticket, &e) < 0)
			cli_die(e.code, "%s", e.msg);
		c.tls_prepare = tls_hook_prepare;
		c.starttls = tls_hook_handshake;
		tls_server_set_log(tls, "mail-recv", ip);
		c.tls_ctx = tls;
	}

	net_init(&n, 0, 1, (unsigned)timeout * 1000);
	/* a failed implicit handshake is logged by the hook, and ends it */
	if (!implicit_tls || tls_hook_handshake(tls, &n, c.tls_info, sizeof c.tls_info) == 0) {
		c.tls_active = implicit_tls;
		/* how the session ended is in the log; tcpserver wants no status */
		(void)smtpd_run(&n, &c);
	}
	tls_close(tls);
	resolver_free(&r);
	conf_free(&conf);
	free(deliver_argv);
	return 0;
}
