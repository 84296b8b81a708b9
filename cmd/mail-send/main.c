/* mail-send: everything after a message is accepted. As sendmail it
 * queues a message read from stdin (inject.c); as the queue runner it
 * delivers what is due (runner.c) to local mailboxes (local.c) and remote
 * hosts (remote.c), retrying and bouncing (dsn.c); and it lists, deletes,
 * holds and releases queued messages.
 *
 * Design: one program, as sendmail is, so that /usr/sbin/sendmail and
 * mailq can be links to it. The mode is chosen by the first of the long
 * options below; everything else is the sendmail command line. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "err.h"
#include "file.h"
#include "send.h"
#include "users.h"

static const char usage_text[] =
"usage: mail-send [-f SENDER] [-F NAME] [-t] [-i] [-N NOTIFY] [-R RET] [RCPT...]\n"
"       mail-send --run [--flush] [--jobs N] | --daemon [--jobs N]\n"
"       mail-send --list | --delete ID... | --hold ID... | --release ID...\n"
"Queue a message read from standard input (sendmail), or run the queue.\n"
"  -f SENDER      envelope sender (default: your login name at the domain)\n"
"  -F NAME        full name for the From: field it adds\n"
"  -t             recipients from To:, Cc: and Bcc: as well\n"
"  -i, -oi        a line with a lone '.' does not end the message\n"
"  -N NOTIFY      DSN: never, or success,failure,delay; -R full|hdrs; -V ENVID\n"
"  -bm            queue the message (the default); -bp: as --list; -q: as --run\n"
"  --run          deliver everything due, then exit (for cron)\n"
"  --daemon       keep running; a new message is picked up within a second\n"
"  --flush        try every deferred message now (with --run or alone)\n"
"  --jobs N       deliver N messages at once (default 4)\n"
"  --list         the queue: ID, age, size, sender, recipients, last error\n"
"  --delete ID    remove a message; --hold ID / --release ID: keep it aside\n"
"  --route D=H[:P]  deliver mail for domain D (or *) to host H, port P\n"
"  --queue DIR    queue directory (default queue_dir, " QUEUE_DIR_DEFAULT ")\n"
"  --hostname N   our name in EHLO, Message-ID: and bounces\n"
"  --config FILE  configuration (default $MAIL_CONF, " SYSCONFDIR "/mail.conf)\n"
"  -v             also report queue IDs and removals (deliveries always are)\n"
"  -h, --help     show this help;  --version  show the version\n"
"Environment: MAIL_CONF.\n";

void usage(void)
{
	fputs(usage_text, stdout);
}

/* "domain=host[:port]" or "domain=[address]:port" into r. */
static int parse_route(const char *s, struct route *r)
{
	const char *eq = strchr(s, '='), *h, *colon;
	char *p;

	if (eq == NULL || eq == s || eq[1] == '\0')
		return -1;
	r->domain = strndup(s, (size_t)(eq - s));
	h = eq + 1;
	if (*h == '[') {
		const char *close = strchr(h, ']');

		if (close == NULL)
			return -1;
		r->host = strndup(h, (size_t)(close - h + 1));
		colon = close[1] == ':' ? close + 1 : close[1] == '\0' ? NULL : "";
	} else {
		colon = strchr(h, ':');
		r->host = colon ? strndup(h, (size_t)(colon - h)) : strdup(h);
	}
	if (colon != NULL && (*colon != ':' || colon[1] == '\0' ||
	                      strspn(colon + 1, "0123456789") != strlen(colon + 1)))
		return -1;
	r->port = strdup(colon ? colon + 1 : "");
	if (r->domain == NULL || r->host == NULL || r->port == NULL || r->host[0] == '\0')
		return -1;
	for (p = r->domain; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return strcmp(r->domain, "*") == 0 || addr_domain_valid(r->domain) ? 0 : -1;
}

const struct route *route_for(const struct send_config *c, const char *domain)
{
	const struct route *star = NULL;

	for (size_t i = 0; i < c->nroutes; i++) {
		if (strcasecmp(c->routes[i].domain, domain) == 0)
			return &c->routes[i];
		if (strcmp(c->routes[i].domain, "*") == 0 && star == NULL)
			star = &c->routes[i];
	}
	return star;
}

/* A route from --route (code EX_USAGE) or mail.conf (EX_CONFIG). */
static void add_route(struct send_config *c, const char *s, const char *where, int code)
{
	if (c->nroutes == MAX_ROUTES)
		cli_die(code, "%s: more than %d routes", where, MAX_ROUTES);
	if (parse_route(s, &c->routes[c->nroutes]) < 0)
		cli_die(code, "%s: bad route \"%s\": DOMAIN=HOST[:PORT] expected", where, s);
	c->nroutes++;
}

/* Split "prog arg | prog arg" at blanks; '|' stays a word of its own.
 * The words live in *buf. */
static char **split_command(const char *s, char **buf)
{
	char *copy = malloc(strlen(s) * 2 + 1), *q = copy;
	char **v = calloc(strlen(s) + 2, sizeof *v);
	size_t n = 0;

	if (copy == NULL || v == NULL)
		cli_die(EX_OSERR, "out of memory");
	for (const char *p = s; *p; p++) {
		if (*p == '|') {
			*q++ = ' ';
			*q++ = '|';
			*q++ = ' ';
		} else {
			*q++ = *p;
		}
	}
	*q = '\0';
	*buf = copy;
	for (char *tok = strtok(copy, " \t"); tok != NULL; tok = strtok(NULL, " \t"))
		v[n++] = tok;
	if (n == 0 || strcmp(v[0], "|") == 0 || strcmp(v[n - 1], "|") == 0)
		cli_die(EX_CONFIG, "delivery_command must be programs separated by |");
	if (n > DELIVERY_WORDS_MAX)
		cli_die(EX_CONFIG, "delivery_command has more than %d words", DELIVERY_WORDS_MAX);
	return v;
}

/* A program of the toolkit (mail-store, mail-filter): next to this one
 * when it is there (a build tree, or the same bin/), else found in PATH. */
static const char *find_sibling(const char *name, char *path, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if (snprintf(path, size, "%s/%s", self, name) < (int)size &&
			    access(path, X_OK) == 0)
				return path;
		}
	}
	return name;
}

enum { OPT_RUN = 256, OPT_DAEMON, OPT_FLUSH, OPT_JOBS, OPT_LIST, OPT_DELETE, OPT_HOLD,
       OPT_RELEASE, OPT_ROUTE, OPT_QUEUE, OPT_HOSTNAME, OPT_CONFIG, OPT_HELP, OPT_VERSION };

static const struct { const char *name; int opt; int arg; } longopts[] = {
	{ "run", OPT_RUN, 0 }, { "daemon", OPT_DAEMON, 0 }, { "flush", OPT_FLUSH, 0 },
	{ "jobs", OPT_JOBS, 1 }, { "list", OPT_LIST, 0 }, { "delete", OPT_DELETE, 0 },
	{ "hold", OPT_HOLD, 0 }, { "release", OPT_RELEASE, 0 }, { "route", OPT_ROUTE, 1 },
	{ "queue", OPT_QUEUE, 1 }, { "hostname", OPT_HOSTNAME, 1 }, { "config", OPT_CONFIG, 1 },
	{ "help", OPT_HELP, 0 }, { "version", OPT_VERSION, 0 },
};

/* The long options are taken out of argv wherever they are (up to a
 * "--"), so that what is left is a sendmail command line. "--opt=x" and
 * "--opt x" both work. Returns the mode. */
static int take_long_options(struct send_config *c, int *argc, char **argv,
                             const char **config, const char **queue, const char **hostname)
{
	int mode = 0, out = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i], *val = NULL;
		size_t k, len;

		if (strcmp(a, "--") == 0) {
			/* the rest is the sendmail command line */
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strncmp(a, "--", 2) != 0) {
			argv[out++] = argv[i];
			continue;
		}
		len = strcspn(a + 2, "=");
		for (k = 0; k < sizeof longopts / sizeof *longopts; k++)
			if (strlen(longopts[k].name) == len && strncmp(a + 2, longopts[k].name, len) == 0)
				break;
		if (k == sizeof longopts / sizeof *longopts) {
			char msg[160];

			snprintf(msg, sizeof msg, "unknown option %.100s", a);
			cli_usage(msg);
		}
		if (longopts[k].arg) {
			if (a[2 + len] == '=')
				val = a + 3 + len;
			else if (i + 1 < *argc)
				val = argv[++i];
			else {
				char msg[160];

				snprintf(msg, sizeof msg, "--%s needs a value", longopts[k].name);
				cli_usage(msg);
			}
		} else if (a[2 + len] == '=') {
			cli_usage("an option without a value was given one");
		}
		switch (longopts[k].opt) {
		case OPT_HELP: usage(); exit(0);
		case OPT_VERSION: printf("mail-send (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION); exit(0);
		case OPT_FLUSH: c->flush = 1; break;
		case OPT_JOBS: {
			unsigned long jobs;

			if (conf_parse_uint(val, 100, &jobs) < 0 || jobs == 0)
				cli_usage("--jobs takes a number from 1 to 100");
			c->jobs = (unsigned)jobs;
			break;
		}
		case OPT_ROUTE: add_route(c, val, "--route", EX_USAGE); break;
		case OPT_QUEUE: *queue = val; break;
		case OPT_HOSTNAME: *hostname = val; break;
		case OPT_CONFIG: *config = val; break;
		default:
			if (mode && mode != longopts[k].opt)
				cli_usage("only one of --run, --daemon, --list, --delete, --hold, --release");
			mode = longopts[k].opt;
		}
	}
	if (c->flush && mode == 0)
		mode = OPT_RUN;
	*argc = out;
	argv[out] = NULL;
	return mode;
}

/* --delete, --hold and --release of the IDs in argv, each under the
 * message's lock. Returns the exit code. */
static int queue_command(struct send_config *c, int mode, int argc, char **argv)
{
	struct err e;
	int rc = 0;

	if (argc < 2)
		cli_usage("--delete, --hold and --release take queue IDs");
	for (int i = 1; i < argc; i++) {
		const char *id = argv[i];
		char from[PATH_MAX], to[PATH_MAX];
		struct queue_state s;
		int locked;

		if (id[0] == '\0' || id[0] == '.' || strchr(id, '/') != NULL ||
		    strlen(id) >= QUEUE_ID_MAX) {
			fprintf(stderr, "mail-send: %s: not a queue ID\n", id);
			rc = EX_USAGE;
			continue;
		}
		/* the message's lock: a runner busy with it finishes first */
		locked = queue_state_lock(&s, c->queue_dir, id, &e);
		for (int tries = 0; locked == 0 && tries < 300; tries++) {
			usleep(100000);
			locked = queue_state_lock(&s, c->queue_dir, id, &e);
		}
		if (locked <= 0) {
			fprintf(stderr, "mail-send: %s: %s\n", id,
			        locked == 0 ? "busy: a runner is delivering it" : e.msg);
			rc = locked == 0 ? EX_TEMPFAIL : e.code;
			continue;
		}
		snprintf(from, sizeof from, "%s/%s/%s", c->queue_dir,
		         mode == OPT_RELEASE ? "hold" : "msg", id);
		snprintf(to, sizeof to, "%s/%s/%s", c->queue_dir,
		         mode == OPT_RELEASE ? "msg" : "hold", id);
		if (mode == OPT_DELETE) {
			struct stat st;

			if (stat(from, &st) < 0)
				snprintf(from, sizeof from, "%s/hold/%s", c->queue_dir, id);
			if (stat(from, &st) < 0) {
				fprintf(stderr, "mail-send: %s: no such message\n", id);
				rc = EX_NOINPUT;
			} else if (queue_remove(c->queue_dir, strstr(from, "/hold/") ? "hold" : "msg",
			                        id, &e) < 0) {
				fprintf(stderr, "mail-send: %s: %s\n", id, e.msg);
				rc = e.code;
			} else {
				printf("%s: deleted\n", id);
			}
		} else if (rename(from, to) < 0) {
			fprintf(stderr, "mail-send: %s: %s\n", id,
			        errno == ENOENT ? (mode == OPT_HOLD ? "no such message in the queue"
			                                            : "no such message on hold")
			                        : strerror(errno));
			rc = errno == ENOENT ? EX_NOINPUT : EX_TEMPFAIL;
		} else if (file_fsync_parent(to, &e) < 0 || file_fsync_parent(from, &e) < 0) {
			fprintf(stderr, "mail-send: %s: %s\n", id, e.msg);
			rc = e.code;
		} else {
			printf("%s: %s\n", id, mode == OPT_HOLD ? "on hold" : "released");
			if (mode == OPT_RELEASE)
				queue_trigger(c->queue_dir);
		}
		/* a message that is gone leaves no state file behind */
		if (mode == OPT_DELETE || rc == EX_NOINPUT) {
			struct stat st;

			snprintf(from, sizeof from, "%s/msg/%s", c->queue_dir, id);
			snprintf(to, sizeof to, "%s/hold/%s", c->queue_dir, id);
			if (stat(from, &st) < 0 && stat(to, &st) < 0)
				unlink(s.path);
		}
		queue_state_close(&s);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct send_config c = { .jobs = 4 };
	const char *config = NULL, *queue = NULL, *hostname = NULL, *v, *prog;
	static char host[256];
	struct err e;
	int mode, rc = 0;

	cli_init("mail-send");
	prog = strrchr(argv[0], '/');
	prog = prog ? prog + 1 : argv[0];
	mode = take_long_options(&c, &argc, argv, &config, &queue, &hostname);
	if (mode == 0 && strcmp(prog, "mailq") == 0)
		mode = OPT_LIST;
	if (conf_load(&c.conf, config, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	if (hostname != NULL && (hostname[0] == '\0' || strpbrk(hostname, " \t()<>@") != NULL))
		cli_usage("--hostname must be a name, without blanks");
	if (hostname == NULL)
		hostname = conf_get(&c.conf, CONF_HOSTNAME, NULL);
	if (hostname == NULL) {
		if (gethostname(host, sizeof host - 1) < 0)
			snprintf(host, sizeof host, "localhost");
		host[sizeof host - 1] = '\0';
		hostname = host;
	}
	if (hostname[0] == '\0' || strpbrk(hostname, " \t()<>@") != NULL)
		cli_die(EX_CONFIG, "the hostname must be a name, without blanks");
	c.hostname = hostname;
	if (queue != NULL && queue[0] != '/')
		cli_usage("--queue must be an absolute path");
	c.queue_dir = queue ? queue : conf_get(&c.conf, CONF_QUEUE_DIR, QUEUE_DIR_DEFAULT);
	if (c.queue_dir[0] != '/')
		cli_die(EX_CONFIG, "the queue directory must be an absolute path");
	if (resolver_configure(&c.resolver, &c.conf, hostname, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	c.domain = c.resolver.domain;
	c.mail_root = conf_get(&c.conf, CONF_MAIL_ROOT, USERS_MAIL_ROOT_DEFAULT);
	if ((v = conf_get(&c.conf, CONF_DELIVERY_COMMAND, NULL)) != NULL)
		c.delivery = split_command(v, &c.delivery_buf);
	{
		static char store[PATH_MAX], filter[PATH_MAX];
		int yes;

		c.mail_store = find_sibling("mail-store", store, sizeof store);
		if (conf_get_bool(&c.conf, CONF_FILTER, 1, &yes, &e) < 0)
			cli_die(e.code, "%s", e.msg);
		c.mail_filter = yes ? find_sibling("mail-filter", filter, sizeof filter) : NULL;
	}
	if (conf_get_duration(&c.conf, CONF_RETRY_MIN, 300, &c.retry_min, &e) < 0 ||
	    conf_get_duration(&c.conf, CONF_RETRY_MAX, 4 * 3600, &c.retry_max, &e) < 0 ||
	    conf_get_duration(&c.conf, CONF_QUEUE_LIFETIME, 5 * 86400, &c.lifetime, &e) < 0 ||
	    conf_get_duration(&c.conf, CONF_DELAY_WARNING, 4 * 3600, &c.delay_warning, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	if (c.retry_min == 0)
		c.retry_min = 1;
	if (c.retry_max < c.retry_min)
		c.retry_max = c.retry_min;
	if ((v = conf_get(&c.conf, CONF_ROUTES, NULL)) != NULL) {
		char *copy = strdup(v);

		for (char *tok = copy ? strtok(copy, ", \t") : NULL; tok; tok = strtok(NULL, ", \t"))
			add_route(&c, tok, "routes", EX_CONFIG);
		free(copy);
	}
	c.relayhost = conf_get(&c.conf, CONF_RELAYHOST, NULL);
	if (c.relayhost != NULL && strncmp(c.relayhost, "smtp://", 7) != 0 &&
	    strncmp(c.relayhost, "smtps://", 8) != 0)
		cli_die(EX_CONFIG, "relayhost must be smtp://HOST[:PORT] or smtps://HOST[:PORT]");
	c.relay_auth_file = conf_get(&c.conf, CONF_RELAY_AUTH_FILE, NULL);
	c.smtp_tls = conf_get(&c.conf, CONF_SMTP_TLS, "may");
	if (strcmp(c.smtp_tls, "may") != 0 && strcmp(c.smtp_tls, "encrypt") != 0 &&
	    strcmp(c.smtp_tls, "verify") != 0)
		cli_die(EX_CONFIG, "smtp_tls must be may, encrypt or verify");
	c.ca_file = conf_get(&c.conf, CONF_TLS_CA_FILE, NULL);
	if (conf_get_bool(&c.conf, CONF_MTA_STS, 1, &c.mta_sts, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	if ((v = conf_get(&c.conf, CONF_DELIVERY_USER, NULL)) != NULL && geteuid() == 0) {
		/* a root runner delivers as this user, never as root */
		static struct run_as as;
		struct passwd *pw = getpwnam(v);

		if (pw == NULL)
			cli_die(EX_CONFIG, "delivery_user %s: no such user", v);
		if (pw->pw_uid == 0)
			cli_die(EX_CONFIG, "delivery_user must not be root");
		as.uid = pw->pw_uid;
		as.gid = pw->pw_gid;
		as.name = v;
		c.delivery_as = &as;
	}

	switch (mode) {
	case 0:
		rc = inject_main(&c, argc, argv);
		break;
	case OPT_RUN:
	case OPT_DAEMON:
		for (int i = 1; i < argc; i++)
			if (strcmp(argv[i], "-v") == 0)
				c.verbose = 1;
			else
				cli_usage("--run and --daemon take no arguments but -v");
		rc = runner_run(&c, mode == OPT_DAEMON);
		break;
	case OPT_LIST:
		if (argc > 1)
			cli_usage("--list takes no arguments");
		rc = runner_list(&c);
		break;
	default:
		rc = queue_command(&c, mode, argc, argv);
	}
	for (size_t i = 0; i < c.nroutes; i++) {
		free(c.routes[i].domain);
		free(c.routes[i].host);
		free(c.routes[i].port);
	}
	free(c.delivery);
	free(c.delivery_buf);
	resolver_free(&c.resolver);
	conf_free(&c.conf);
	return rc;
}
