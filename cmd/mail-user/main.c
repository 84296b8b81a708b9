/* mail-user: manage accounts, passwords and aliases; look addresses up;
 * export the global address list; check passwords for scripts and for
 * qmail-style checkpassword chains.
 *
 * Design: each subcommand is one function that turns its arguments into
 * calls on lib/users.c (the users file, its index and locked atomic
 * edits), lib/alias.c (aliases and resolution), lib/passwd.c (hashes and
 * SCRAM keys) and lib/gal.c (search and export). Reading is lock-free
 * because every edit replaces the file by rename; writers serialise on a
 * lock file. A password is never taken from the command line, where ps(1)
 * would show it: it comes from stdin or, on a terminal, from a prompt
 * without echo. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include "addr.h"
#include "alias.h"
#include "auth.h"
#include "cli.h"
#include "conf.h"
#include "err.h"
#include "file.h"
#include "gal.h"
#include "io.h"
#include "passwd.h"
#include "quota.h"
#include "saslprep.h"
#include "users.h"

#define DEFAULT_AUTH_DELAY_MS 2000
#define STR(x) #x
#define XSTR(x) STR(x)
#define PASSWD_MAX_TEXT XSTR(PASSWD_MAX)

static const char usage_text[] =
"usage: mail-user [--config FILE] [--users FILE] [--aliases FILE] COMMAND [ARGS]\n"
"Accounts:\n"
"  add ADDR [--name NAME] [--password-stdin] [--maildir DIR | --mbox FILE]\n"
"           [--quota Q] [--address ADDR]... [--scheme S]\n"
"  del ADDR                      remove the account (its mail stays on disk)\n"
"  passwd ADDR [--scheme S] [--scram-iterations N] [--no-scram]\n"
"                                set the password (stdin, or asked on a terminal)\n"
"  disable ADDR | enable ADDR    refuse or allow logins (mail is still delivered)\n"
"  list                          address, name and state of every account\n"
"  show ADDR                     one account in detail (never the hash)\n"
"  check ADDR                    password on stdin: exit 0 if right, 1 if not\n"
"  index                         check the users file and rebuild its index\n"
"  import --dovecot FILE         add the accounts of a Dovecot passwd-file\n"
"Aliases:\n"
"  alias add NAME TARGET...      add targets to an alias (creating it)\n"
"  alias del NAME [TARGET...]    remove targets, or the whole alias\n"
"  alias list [NAME]             show aliases\n"
"  resolve ADDR...               where mail for ADDR goes\n"
"Global address list:\n"
"  find TERM                     accounts whose name or address contains TERM\n"
"  export --vcard | --ldif [--base DN]\n"
"Login chains:\n"
"  checkpassword PROG [ARGS]     qmail checkpassword interface on fd 3\n"
"Options:\n"
"  --config FILE   configuration (default $MAIL_CONF, " SYSCONFDIR "/mail.conf)\n"
"  --users FILE    users file (default users_file, " USERS_FILE_DEFAULT ")\n"
"  --aliases FILE  aliases file (default aliases_file, " ALIASES_FILE_DEFAULT ")\n"
"  --scheme S      yescrypt (default), sha512 or bcrypt\n"
"  -h, --help      show this help;  -V, --version  show the version\n";

struct settings {
	struct conf conf;
	struct resolver r;           /* users, aliases, domains, from mail.conf */
	const char *users;           /* r.users_file, or --users */
	const char *aliases;         /* r.aliases_file, or --aliases */
	const char *mail_root;
	const char *domain;          /* r.domain */
	unsigned long auth_delay_ms;
	char hostname[256];
};

static struct settings S;

static __attribute__((noreturn)) void die_err(const struct err *e)
{
	cli_die(e->code ? e->code : EX_SOFTWARE, "%s", e->msg);
}

static __attribute__((format(printf, 1, 2))) void warn(const char *fmt, ...)
{
	char msg[512], safe[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "mail-user: warning: %s\n", err_escape(safe, sizeof safe, msg, strlen(msg)));
}

static void load_settings(const char *config, const char *users, const char *aliases)
{
	struct err e;

	if (conf_load(&S.conf, config, &e) < 0)
		die_err(&e);
	if (gethostname(S.hostname, sizeof S.hostname - 1) < 0)
		snprintf(S.hostname, sizeof S.hostname, "localhost");
	if (resolver_configure(&S.r, &S.conf, conf_get(&S.conf, CONF_HOSTNAME, S.hostname), &e) < 0)
		die_err(&e);
	if (users)
		S.r.users_file = users;
	if (aliases)
		S.r.aliases_file = aliases;
	S.users = S.r.users_file;
	S.aliases = S.r.aliases_file;
	S.domain = S.r.domain;
	S.mail_root = conf_get(&S.conf, CONF_MAIL_ROOT, USERS_MAIL_ROOT_DEFAULT);
	if (S.mail_root[0] != '/')
		cli_die(EX_CONFIG, "mail_root must be an absolute path");
	if (conf_get_ms(&S.conf, CONF_AUTH_FAILURE_DELAY, DEFAULT_AUTH_DELAY_MS,
	                &S.auth_delay_ms, &e) < 0)
		die_err(&e);
}

/* ---- passwords ---- */

/* Read one line from fd into buf (PASSWD_MAX + 2 bytes): at most
 * PASSWD_MAX bytes, without its newline (or CRLF). Returns its length, or
 * -1 when too long or unreadable. */
static long read_line(int fd, char *buf)
{
	size_t n = 0;
	ssize_t r;
	char c;

	while ((r = io_read(fd, &c, 1)) == 1 && c != '\n') {
		if (n > PASSWD_MAX)
			return -1;
		buf[n++] = c;
	}
	if (r < 0)
		return -1;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n > PASSWD_MAX)
		return -1;
	buf[n] = '\0';
	return (long)n;
}

static long prompt(int tty, const char *text, char *buf)
{
	struct termios old, quiet;
	long n;

	if (tcgetattr(tty, &old) < 0)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	(void)io_write_all(tty, text, strlen(text));
	if (tcsetattr(tty, TCSAFLUSH, &quiet) < 0)
		return -1;
	n = read_line(tty, buf);
	(void)tcsetattr(tty, TCSAFLUSH, &old);
	(void)io_write_all(tty, "\n", 1);
	return n;
}

/* A password from stdin, or asked twice on the terminal when stdin is one,
 * into pw (PASSWD_MAX + 2 bytes). */
static void read_password(char *pw)
{
	long n;

	if (isatty(0)) {
		char again[PASSWD_MAX + 2];
		int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);

		if (tty < 0)
			cli_die(EX_OSERR, "cannot open the terminal");
		n = prompt(tty, "New password: ", pw);
		if (n >= 0 && prompt(tty, "Retype new password: ", again) >= 0 &&
		    strcmp(pw, again) != 0) {
			explicit_bzero(again, sizeof again);
			cli_die(EX_DATAERR, "the passwords differ");
		}
		explicit_bzero(again, sizeof again);
		close(tty);
	} else {
		n = read_line(0, pw);
	}
	if (n < 0)
		cli_die(EX_DATAERR, "password unreadable or longer than " PASSWD_MAX_TEXT " bytes");
	if (n == 0)
		cli_die(EX_DATAERR, "empty password");
}

struct pwopts {
	const char *scheme;
	unsigned long iterations;
	int no_scram;
};

/* Hash pw into hash (and SCRAM keys into scram, "" with no_scram). */
static void make_secrets(const char *pw, const struct pwopts *o, char *hash, size_t hashsz,
                         char *scram, size_t scramsz)
{
	char prepared[4 * PASSWD_MAX];
	struct err e;

	if (passwd_hash(pw, o->scheme, hash, hashsz, &e) < 0)
		die_err(&e);
	scram[0] = '\0';
	if (o->no_scram)
		return;
	if (saslprep(pw, prepared, sizeof prepared, &e) < 0 ||
	    scram_keys_make(prepared, o->iterations, scram, scramsz, &e) < 0) {
		explicit_bzero(prepared, sizeof prepared);
		die_err(&e);
	}
	explicit_bzero(prepared, sizeof prepared);
}

static unsigned long parse_iterations(const char *s)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || s[0] < '0' || s[0] > '9' || n < 4096 || n > 10000000)
		cli_usage("--scram-iterations takes a number from 4096 to 10000000");
	return n;
}

/* ---- helpers ---- */

static void need_address(const char *a)
{
	if (!addr_valid(a))
		cli_die(EX_DATAERR, "not a valid address (local@domain)");
}

static void open_users(struct users_file *f, int edit)
{
	struct err e;

	if (users_open(f, S.users, edit, &e) < 0)
		die_err(&e);
}

static void commit_users(struct users_file *f)
{
	struct err e;

	if (users_commit(f, &e) < 0)
		die_err(&e);
	users_close(f);
}

/* The account whose own address is addr: an extra address names the
 * account it belongs to, so that "del" never removes more than was named. */
static long find_account(struct users_file *f, const char *addr)
{
	long i = users_find(f, addr);

	if (i < 0) {
		cli_die(EX_NOUSER, "no such account: %.254s", addr);
	}
	if (strcasecmp(f->user[i].address, addr) != 0) {
		cli_die(EX_NOUSER, "%.254s is an address of the account %s", addr, f->user[i].address);
	}
	return i;
}

/* A copy of f's account i that the caller may change and put back. */
static void edit_copy(struct users_file *f, long i, struct user *u)
{
	struct err e;

	if (user_copy(u, &f->user[i], &e) < 0)
		die_err(&e);
}

static void put_user(struct users_file *f, const struct user *u)
{
	struct err e;

	if (users_put(f, u, &e) < 0)
		die_err(&e);
}

/* Getopt for a subcommand: argv[0] is the subcommand's name; options may
 * come before or after the operands. */
static int subopt(int argc, char **argv, const struct option *longopts)
{
	return getopt_long(argc, argv, "", longopts, NULL);
}

enum {
	OPT_NAME = 256, OPT_PASSWORD_STDIN, OPT_MAILDIR, OPT_MBOX, OPT_QUOTA, OPT_ADDRESS,
	OPT_SCHEME, OPT_ITERATIONS, OPT_NO_SCRAM, OPT_VCARD, OPT_LDIF, OPT_BASE, OPT_DOVECOT,
};

static void bad_option(char **argv)
{
	char msg[200];

	snprintf(msg, sizeof msg, "%s: unknown option or missing argument", argv[0]);
	cli_usage(msg);
}

/* ---- account commands ---- */

static int cmd_add(int argc, char **argv)
{
	static const struct option o[] = {
		{ "name", required_argument, NULL, OPT_NAME },
		{ "password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN },
		{ "maildir", required_argument, NULL, OPT_MAILDIR },
		{ "mbox", required_argument, NULL, OPT_MBOX },
		{ "quota", required_argument, NULL, OPT_QUOTA },
		{ "address", required_argument, NULL, OPT_ADDRESS },
		{ "scheme", required_argument, NULL, OPT_SCHEME },
		{ "scram-iterations", required_argument, NULL, OPT_ITERATIONS },
		{ "no-scram", no_argument, NULL, OPT_NO_SCRAM },
		{ NULL, 0, NULL, 0 },
	};
	struct pwopts pw = { NULL, SCRAM_ITERATIONS, 0 };
	char mailbox[PATH_MAX], addrs[USERS_LINE_MAX] = "", hash[PASSWD_HASH_MAX],
	     scram[SCRAM_KEYS_MAX], password[PASSWD_MAX + 2], address[ADDR_MAX + 1];
	const char *name = "", *maildir = NULL, *mbox = NULL, *quota = "";
	int c, from_stdin = 0;
	struct users_file f;
	struct user u;
	struct quota q;
	struct err e;

	while ((c = subopt(argc, argv, o)) != -1) {
		switch (c) {
		case OPT_NAME: name = optarg; break;
		case OPT_PASSWORD_STDIN: from_stdin = 1; break;
		case OPT_MAILDIR: maildir = optarg; break;
		case OPT_MBOX: mbox = optarg; break;
		case OPT_QUOTA: quota = optarg; break;
		case OPT_ADDRESS:
			need_address(optarg);
			{
				size_t at = strlen(addrs);

				if (snprintf(addrs + at, sizeof addrs - at, "%s%s", at ? "," : "",
				             optarg) >= (int)(sizeof addrs - at))
					cli_usage("too many --address");
			}
			break;
		case OPT_SCHEME: pw.scheme = optarg; break;
		case OPT_ITERATIONS: pw.iterations = parse_iterations(optarg); break;
		case OPT_NO_SCRAM: pw.no_scram = 1; break;
		default: bad_option(argv);
		}
	}
	if (optind != argc - 1)
		cli_usage("add takes one address");
	snprintf(address, sizeof address, "%s", argv[optind]);
	need_address(address);
	addr_lower(address);
	addr_lower(addrs);
	if (maildir && mbox)
		cli_usage("--maildir and --mbox exclude each other");
	if (strchr(name, '\n') || strchr(name, '\r') || strchr(name, '\t'))
		cli_usage("--name may not hold control characters");
	if (quota[0] && quota_parse(quota, &q, &e) < 0)
		die_err(&e);
	if (maildir) {
		size_t n = strlen(maildir);

		if (n == 0 || snprintf(mailbox, sizeof mailbox, "%s%s", maildir,
		                       maildir[n - 1] == '/' ? "" : "/") >= (int)sizeof mailbox)
			cli_usage("bad --maildir");
	} else if (mbox) {
		if (mbox[0] == '\0' || mbox[strlen(mbox) - 1] == '/' ||
		    snprintf(mailbox, sizeof mailbox, "%s", mbox) >= (int)sizeof mailbox)
			cli_usage("--mbox names a file, not a directory");
	} else {
		const char *domain = addr_domain(address);

		if (strchr(address, '/') != NULL)
			cli_usage("this address cannot name a directory: give --maildir");
		snprintf(mailbox, sizeof mailbox, "%s/%.*s/Maildir/", domain,
		         (int)(domain - 1 - address), address);
	}
	if (strstr(mailbox, "/../") || strncmp(mailbox, "../", 3) == 0)
		cli_usage("a mailbox path may not contain ..");

	hash[0] = '!';
	hash[1] = '\0';
	scram[0] = '\0';
	if (from_stdin || isatty(0)) {
		read_password(password);
		make_secrets(password, &pw, hash, sizeof hash, scram, sizeof scram);
		explicit_bzero(password, sizeof password);
	}
	memset(&u, 0, sizeof u);
	u.address = address;
	u.hash = hash;
	u.mailbox = mailbox;
	u.name = (char *)name;
	u.quota = (char *)quota;
	u.scram = scram[0] ? scram : NULL;
	u.addresses = addrs[0] ? addrs : NULL;

	open_users(&f, 1);
	if (users_find(&f, address) >= 0)
		cli_die(EX_CANTCREAT, "the address is taken: remove it first or use passwd");
	put_user(&f, &u);
	commit_users(&f);
	explicit_bzero(hash, sizeof hash);
	explicit_bzero(scram, sizeof scram);
	if (!resolver_is_local(&S.r, addr_domain(address)))
		warn("%s is not in local_domains: mail to it will not be accepted",
		     addr_domain(address));
	return 0;
}

static int cmd_del(int argc, char **argv)
{
	struct users_file f;

	if (argc != 2)
		cli_usage("del takes one address");
	open_users(&f, 1);
	users_remove(&f, (size_t)find_account(&f, argv[1]));
	commit_users(&f);
	return 0;
}

static int cmd_passwd(int argc, char **argv)
{
	static const struct option o[] = {
		{ "scheme", required_argument, NULL, OPT_SCHEME },
		{ "scram-iterations", required_argument, NULL, OPT_ITERATIONS },
		{ "no-scram", no_argument, NULL, OPT_NO_SCRAM },
		{ NULL, 0, NULL, 0 },
	};
	struct pwopts pw = { NULL, SCRAM_ITERATIONS, 0 };
	char hash[PASSWD_HASH_MAX], scram[SCRAM_KEYS_MAX], password[PASSWD_MAX + 2];
	struct users_file f;
	struct user u;
	int c;

	while ((c = subopt(argc, argv, o)) != -1) {
		switch (c) {
		case OPT_SCHEME: pw.scheme = optarg; break;
		case OPT_ITERATIONS: pw.iterations = parse_iterations(optarg); break;
		case OPT_NO_SCRAM: pw.no_scram = 1; break;
		default: bad_option(argv);
		}
	}
	if (optind != argc - 1)
		cli_usage("passwd takes one address");
	/* Ask before taking the lock: a person at a prompt must not hold up
	 * every other edit. The account is checked again under the lock. */
	{
		struct users_file check;

		open_users(&check, 0);
		find_account(&check, argv[optind]);
		users_close(&check);
	}
	read_password(password);
	make_secrets(password, &pw, hash, sizeof hash, scram, sizeof scram);
	explicit_bzero(password, sizeof password);
	open_users(&f, 1);
	edit_copy(&f, find_account(&f, argv[optind]), &u);
	u.hash = hash;
	u.scram = scram[0] ? scram : NULL;
	put_user(&f, &u);
	user_free(&u);
	commit_users(&f);
	explicit_bzero(hash, sizeof hash);
	explicit_bzero(scram, sizeof scram);
	return 0;
}

static int set_disabled(int argc, char **argv, int disabled)
{
	struct users_file f;
	struct user u;

	if (argc != 2)
		cli_usage("takes one address");
	open_users(&f, 1);
	edit_copy(&f, find_account(&f, argv[1]), &u);
	u.disabled = disabled;
	put_user(&f, &u);
	user_free(&u);
	commit_users(&f);
	return 0;
}

static int cmd_disable(int argc, char **argv) { return set_disabled(argc, argv, 1); }
static int cmd_enable(int argc, char **argv) { return set_disabled(argc, argv, 0); }

static void print_entry(const struct user *u)
{
	printf("%s\t%s\t%s\n", u->address, u->name, u->disabled ? "disabled" : "active");
}

static int cmd_list(int argc, char **argv)
{
	struct users_file f;
	size_t i;

	(void)argv;
	if (argc != 1)
		cli_usage("list takes no arguments");
	open_users(&f, 0);
	for (i = 0; i < f.n; i++)
		if (f.user[i].address)
			print_entry(&f.user[i]);
	users_close(&f);
	return 0;
}

static int cmd_show(int argc, char **argv)
{
	char path[PATH_MAX];
	struct scram_keys k;
	struct user u;
	struct err e;
	int maildir, rc;

	if (argc != 2)
		cli_usage("show takes one address");
	{
		char name[ADDR_MAX + 2];

		(void)addr_qualify(argv[1], S.domain, name, sizeof name);
		rc = users_lookup(S.users, name, &u, NULL, &e);
	}
	if (rc < 0)
		die_err(&e);
	if (rc == 0)
		cli_die(EX_NOUSER, "no such account");
	printf("address: %s\n", u.address);
	printf("name: %s\n", u.name);
	if (users_mailbox(&u, S.mail_root, path, sizeof path, &maildir, &e) < 0)
		printf("mailbox: (%s)\n", e.msg);
	else
		printf("mailbox: %s (%s)\n", path, maildir ? "maildir" : "mbox");
	printf("quota: %s\n", u.quota[0] ? u.quota : "none");
	printf("password: %s\n", passwd_scheme(u.hash));
	if (u.scram && scram_keys_parse(u.scram, &k) == 0)
		printf("scram-sha-256: %lu iterations\n", k.iterations);
	else
		printf("scram-sha-256: none\n");
	printf("state: %s\n", u.disabled ? "disabled" : "active");
	printf("addresses: %s\n", u.addresses ? u.addresses : "");
	if (u.extra)
		printf("extra: %s\n", u.extra);
	printf("line: %lu\n", u.lineno);
	explicit_bzero(&k, sizeof k);
	user_free(&u);
	return 0;
}

static int cmd_check(int argc, char **argv)
{
	char password[PASSWD_MAX + 2], user[ADDR_MAX + 1];
	struct err e;
	long n;
	int rc;

	if (argc != 2)
		cli_usage("check takes one address");
	n = read_line(0, password);
	if (n < 0)
		cli_die(EX_DATAERR, "password unreadable or longer than " PASSWD_MAX_TEXT " bytes");
	rc = auth_password(S.users, S.domain, argv[1], password, user, &e);
	explicit_bzero(password, sizeof password);
	if (rc < 0)
		die_err(&e);
	return rc == 1 ? 0 : 1;
}

static int cmd_index(int argc, char **argv)
{
	struct users_file f;
	struct aliases al;
	struct err e;

	(void)argv;
	if (argc != 1)
		cli_usage("index takes no arguments");
	open_users(&f, 1);
	commit_users(&f);
	if (aliases_load(&al, S.aliases, &e) < 0)
		die_err(&e);
	aliases_free(&al);
	return 0;
}

/* ---- import ---- */

/* Find the Dovecot extra field key (with or without "userdb_") in the
 * blank-separated list extra. Returns 1 for "key=value" with the value in
 * out, 2 for a bare "key" (a flag, out empty), 0 when absent. */
static int dovecot_field(const char *extra, const char *key, char *out, size_t outsz)
{
	const char *p = extra;
	size_t k = strlen(key);

	while (*p) {
		size_t len = strcspn(p, " \t");
		const char *f = strncmp(p, "userdb_", 7) == 0 ? p + 7 : p;
		size_t flen = (size_t)(p + len - f);

		if (flen >= k && strncmp(f, key, k) == 0 && (flen == k || f[k] == '=')) {
			snprintf(out, outsz, "%.*s", flen == k ? 0 : (int)(flen - k - 1), f + k + 1);
			return flen == k ? 2 : 1;
		}
		p += len;
		p += strspn(p, " \t");
	}
	return 0;
}

/* One line of a Dovecot passwd-file (user:password:uid:gid:gecos:home:
 * shell:extra) as an account. Returns 0, or -1 with e set. */
static int dovecot_account(char *line, struct user *u, char *buf, size_t bufsz, struct err *e)
{
	char *f[8], *p = line, *w = buf, mail[PATH_MAX], rule[128];
	size_t n = 0;

	memset(f, 0, sizeof f);
	while (n < 8) {
		f[n++] = p;
		p = strchr(p, ':');
		if (p == NULL)
			break;
		*p++ = '\0';
		if (n == 7) {   /* extra fields may hold colons */
			f[n++] = p;
			break;
		}
	}
	if (n < 2 || f[0][0] == '\0')
		return err_set(e, EX_DATAERR, "expected user:password:...");
	/* All fields are laid out in buf: address, name, mailbox, quota. */
#define PUT(dst, ...) do { int k_ = snprintf(w, bufsz - (size_t)(w - buf), __VA_ARGS__); \
	if (k_ < 0 || (size_t)k_ >= bufsz - (size_t)(w - buf)) \
		return err_set(e, EX_DATAERR, "line too long"); \
	dst = w; w += k_ + 1; } while (0)
	if (strchr(f[0], '@'))
		PUT(u->address, "%s", f[0]);
	else
		PUT(u->address, "%s@%s", f[0], S.domain);
	addr_lower(u->address);
	if (!addr_valid(u->address))
		return err_set(e, EX_DATAERR, "invalid user %.100s", f[0]);
	u->hash = f[1];
	if (strncasecmp(f[1], "{SCRAM-SHA-256}", 15) == 0) {
		struct scram_keys k;

		/* Dovecot's SCRAM hash is the keys themselves: SCRAM works at once */
		if (scram_keys_parse(f[1] + 15, &k) == 0)
			u->scram = f[1] + 15;
		explicit_bzero(&k, sizeof k);
	}
	PUT(u->name, "%.*s", (int)(f[4] ? strcspn(f[4], ",") : 0), f[4] ? f[4] : "");
	if (f[7] && dovecot_field(f[7], "mail", mail, sizeof mail)) {
		char *path = mail + 8;
		size_t plen;

		if (strncmp(mail, "maildir:", 8) != 0)
			return err_set(e, EX_DATAERR, "mail=%.40s: only maildir: locations can be "
			               "imported; give the mailbox by hand", mail);
		path[strcspn(path, ":")] = '\0';   /* drop :INDEX=... and the like */
		plen = strlen(path);
		if (plen > 0 && path[plen - 1] == '/')
			path[--plen] = '\0';
		if (path[0] == '~' && (f[5] == NULL || f[5][0] != '/'))
			return err_set(e, EX_DATAERR, "mail=maildir:~... without a home directory");
		if (path[0] == '~')
			PUT(u->mailbox, "%s%s/", f[5], path + 1);
		else if (path[0] == '/')
			PUT(u->mailbox, "%s/", path);
		else
			return err_set(e, EX_DATAERR, "mail=maildir:%.40s is not an absolute path", path);
	} else if (f[5] && f[5][0] == '/') {
		size_t hlen = strlen(f[5]);

		if (hlen > 1 && f[5][hlen - 1] == '/')
			hlen--;
		PUT(u->mailbox, "%.*s/Maildir/", (int)hlen, f[5]);
	} else {
		PUT(u->mailbox, "%s", "");
	}
	u->quota = "";
	if (f[7] && dovecot_field(f[7], "quota_rule", rule, sizeof rule) &&
	    strncmp(rule, "*:storage=", 10) == 0) {
		const char *v = rule + 10;
		size_t digits = strspn(v, "0123456789");
		const char *unit = v + digits;

		/* Dovecot reads a bare number as kilobytes, "B" as bytes; 0 is
		 * no limit. */
		if (digits == 0 || (unit[0] != '\0' && (unit[1] != '\0' || !strchr("bBkKMGT", unit[0]))))
			return err_set(e, EX_DATAERR, "quota_rule storage=%.20s is not a size", v);
		if (strspn(v, "0") != digits)
			PUT(u->quota, "%.*s%s", (int)digits, v, unit[0] == '\0' ? "K" :
			    unit[0] == 'b' || unit[0] == 'B' ? "" : unit);
	}
	if (f[7] != NULL) {
		char value[8];
		int found = dovecot_field(f[7], "nologin", value, sizeof value);

		/* nologin (or nologin=yes) denies logins; nologin=no does not */
		u->disabled = found == 2 ||
		              (found == 1 && (value[0] == '\0' || strchr("nN0fF", value[0]) == NULL));
	}
#undef PUT
	return 0;
}

static int cmd_import(int argc, char **argv)
{
	static const struct option o[] = {
		{ "dovecot", no_argument, NULL, OPT_DOVECOT },
		{ NULL, 0, NULL, 0 },
	};
	char *data, *p, *end, *nl, buf[4 * USERS_LINE_MAX];
	struct users_file f;
	unsigned long lineno = 0, added = 0;
	size_t len;
	struct err e;
	int c, dovecot = 0;

	while ((c = subopt(argc, argv, o)) != -1) {
		if (c == OPT_DOVECOT)
			dovecot = 1;
		else
			bad_option(argv);
	}
	if (!dovecot || optind != argc - 1)
		cli_usage("import takes --dovecot and a passwd-file");
	if (file_read_all(argv[optind], (size_t)1 << 30, &data, &len, 0, &e) < 0) {
		if (errno == ENOENT || errno == EACCES)
			e.code = EX_NOINPUT;
		die_err(&e);
	}
	open_users(&f, 1);
	for (p = data, end = data + len; p != NULL && p < end; p = nl ? nl + 1 : NULL) {
		struct user u;
		char *line;

		nl = memchr(p, '\n', (size_t)(end - p));
		line = strndup(p, nl ? (size_t)(nl - p) : (size_t)(end - p));
		if (line == NULL)
			cli_die(EX_TEMPFAIL, "out of memory");
		lineno++;
		if (line[0] != '\0' && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		if (line[strspn(line, " \t")] == '\0' || line[strspn(line, " \t")] == '#') {
			free(line);
			continue;
		}
		memset(&u, 0, sizeof u);
		if (dovecot_account(line, &u, buf, sizeof buf, &e) < 0 ||
		    (users_find(&f, u.address) >= 0 &&
		     err_set(&e, EX_CANTCREAT, "%s is already an account", u.address)) ||
		    users_put(&f, &u, &e) < 0) {
			explicit_bzero(line, strlen(line));
			err_prefix(&e, 0, "%s:%lu", argv[optind], lineno);
			die_err(&e);   /* nothing is written: all or none */
		}
		explicit_bzero(line, strlen(line));
		free(line);
		added++;
	}
	explicit_bzero(data, len);
	free(data);
	commit_users(&f);
	printf("%lu accounts imported\n", added);
	return 0;
}

/* ---- aliases ---- */

/* Append s to the malloc'd string *buf of *len bytes. */
static void append(char **buf, size_t *len, const char *s)
{
	size_t n = strlen(s);
	char *nb = realloc(*buf, *len + n + 1);

	if (nb == NULL)
		cli_die(EX_TEMPFAIL, "out of memory");
	memcpy(nb + *len, s, n + 1);
	*buf = nb;
	*len += n;
}

/* The aliases file as lines, and which lines make name's entry. */
struct alias_text {
	char **line;
	char *member;       /* line i belongs to name's entry */
	size_t n;
	long first;         /* the entry's first line, -1 when name has none */
};

/* Is line blank or a comment (ignored by the parser, even inside an entry)? */
static int ignorable(const char *l)
{
	l += strspn(l, " \t\r");
	return *l == '\0' || *l == '#';
}

static void alias_text_read(struct alias_text *t, const char *name)
{
	char *data, *p, *end, *nl;
	struct aliases check;
	size_t len, i, k = strlen(name);
	struct err e;
	int in_entry = 0;

	if (file_read_all(S.aliases, (size_t)256 << 20, &data, &len, 1, &e) < 0)
		die_err(&e);
	if (aliases_parse(&check, data, len, S.aliases, &e) < 0)
		die_err(&e);   /* a broken file is mended by hand, not rewritten */
	aliases_free(&check);
	memset(t, 0, sizeof *t);
	t->first = -1;
	for (p = data, end = data + len; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		t->line = realloc(t->line, (t->n + 1) * sizeof *t->line);
		if (t->line == NULL || (t->line[t->n] = strndup(p, (size_t)(nl - p))) == NULL)
			cli_die(EX_TEMPFAIL, "out of memory");
		t->n++;
	}
	free(data);
	t->member = calloc(t->n + 1, 1);
	if (t->member == NULL)
		cli_die(EX_TEMPFAIL, "out of memory");
	for (i = 0; i < t->n; i++) {
		const char *l = t->line[i];

		if (ignorable(l))
			continue;
		if (l[0] == ' ' || l[0] == '\t') {
			t->member[i] = (char)in_entry;   /* a continuation line */
			continue;
		}
		in_entry = strncasecmp(l, name, k) == 0 && l[k + strspn(l + k, " \t")] == ':';
		if (in_entry) {
			t->first = (long)i;
			t->member[i] = 1;
		}
	}
}

static void alias_text_write(struct alias_text *t)
{
	struct aliases check;
	size_t len = 0, i;
	char *data = NULL;
	struct err e;

	append(&data, &len, "");
	for (i = 0; i < t->n; i++)
		if (t->line[i]) {
			append(&data, &len, t->line[i]);
			append(&data, &len, "\n");
		}
	if (aliases_parse(&check, data, len, S.aliases, &e) < 0)
		die_err(&e);
	aliases_free(&check);
	if (file_replace(S.aliases, data, len, 0644, NULL, &e) < 0)
		die_err(&e);
	free(data);
	for (i = 0; i < t->n; i++)
		free(t->line[i]);
	free(t->line);
	free(t->member);
}

/* name's entry as one line with targets. */
static char *alias_line(const char *name, char **target, size_t n)
{
	char *line = NULL;
	size_t len = 0, i;

	append(&line, &len, name);
	append(&line, &len, ":");
	for (i = 0; i < n; i++) {
		int quote = strpbrk(target[i], ", \t#") != NULL;

		append(&line, &len, i ? ", " : " ");
		append(&line, &len, quote ? "\"" : "");
		append(&line, &len, target[i]);
		append(&line, &len, quote ? "\"" : "");
	}
	return line;
}

/* Do two targets name the same place? A bare name is the name at the
 * default domain, as resolution reads it. */
static int same_target(const char *a, const char *b)
{
	char qa[ADDR_MAX + 2], qb[ADDR_MAX + 2];

	if (strcmp(a, b) == 0)
		return 1;
	if (strchr("|/@", a[0]) || strchr("|/@", b[0]))
		return 0;
	(void)addr_qualify(a, S.domain, qa, sizeof qa);
	(void)addr_qualify(b, S.domain, qb, sizeof qb);
	return strcasecmp(qa, qb) == 0;
}

static int alias_edit(int argc, char **argv, int adding)
{
	char name[ADDR_MAX + 2], **old = NULL, **add = NULL, **keep;
	long nold = 0, nadd = 0, i, j;
	struct alias_text t;
	size_t nkeep = 0;
	struct err e;
	int lockfd;

	if (argc < (adding ? 3 : 2))
		cli_usage(adding ? "alias add takes a name and targets" : "alias del takes a name");
	snprintf(name, sizeof name, "%s", argv[1]);
	addr_lower(name);
	if (!aliases_name_valid(name))
		cli_die(EX_DATAERR, "invalid alias name");
	for (i = 2; i < argc; i++) {   /* each target checked on its own */
		char **one;
		long n = aliases_split(argv[i], &one, &e);

		if (n < 0)
			die_err(&e);
		add = realloc(add, (size_t)(nadd + n) * sizeof *add);
		if (add == NULL)
			cli_die(EX_TEMPFAIL, "out of memory");
		memcpy(add + nadd, one, (size_t)n * sizeof *one);
		nadd += n;
		free(one);
	}
	lockfd = file_lock(S.aliases, USERS_LOCK_TIMEOUT, &e);
	if (lockfd < 0)
		die_err(&e);
	alias_text_read(&t, name);
	if (t.first >= 0) {
		char *joined = NULL;
		size_t jl = 0;

		for (i = t.first; i < (long)t.n; i++)
			if (t.member[i]) {
				append(&joined, &jl, t.line[i]);
				append(&joined, &jl, " ");
			}
		nold = aliases_split(strchr(joined, ':') + 1, &old, &e);
		if (nold < 0)
			die_err(&e);
		free(joined);
	} else if (!adding) {
		cli_die(EX_NOUSER, "no such alias");
	}
	keep = calloc((size_t)(nold + nadd) + 1, sizeof *keep);
	if (keep == NULL)
		cli_die(EX_TEMPFAIL, "out of memory");
	for (i = 0; i < nold; i++) {
		int drop = 0;

		for (j = 0; !adding && j < nadd; j++)
			drop |= same_target(old[i], add[j]);
		if (!drop && !(!adding && nadd == 0))
			keep[nkeep++] = old[i];
	}
	if (!adding && nadd > 0 && nkeep == (size_t)nold)
		cli_die(EX_NOUSER, "the alias has none of those targets");
	for (j = 0; adding && j < nadd; j++) {
		int dup = 0;

		for (i = 0; i < (long)nkeep; i++)
			dup |= same_target(keep[i], add[j]);
		if (!dup)
			keep[nkeep++] = add[j];
	}
	if (t.first >= 0) {
		for (i = t.first + 1; i < (long)t.n; i++)
			if (t.member[i]) {
				free(t.line[i]);
				t.line[i] = NULL;
			}
		free(t.line[t.first]);
		t.line[t.first] = nkeep ? alias_line(name, keep, nkeep) : NULL;
	} else {
		t.line = realloc(t.line, (t.n + 1) * sizeof *t.line);
		if (t.line == NULL)
			cli_die(EX_TEMPFAIL, "out of memory");
		t.line[t.n++] = alias_line(name, keep, nkeep);
	}
	alias_text_write(&t);
	close(lockfd);
	free(keep);
	aliases_free_list(old, (size_t)nold);
	aliases_free_list(add, (size_t)nadd);
	return 0;
}

static int alias_list(int argc, char **argv)
{
	struct aliases al;
	struct err e;
	size_t i, j;

	if (argc > 2)
		cli_usage("alias list takes at most a name");
	if (aliases_load(&al, S.aliases, &e) < 0)
		die_err(&e);
	for (i = 0; i < al.n; i++) {
		if (argc == 2 && strcasecmp(al.a[i].name, argv[1]) != 0)
			continue;
		printf("%s:", al.a[i].name);
		for (j = 0; j < al.a[i].ntarget; j++) {
			const char *t = al.a[i].target[j];
			int quote = strpbrk(t, ", \t#") != NULL;

			printf("%s %s%s%s", j ? "," : "", quote ? "\"" : "", t, quote ? "\"" : "");
		}
		printf("\n");
	}
	aliases_free(&al);
	return 0;
}

static int cmd_alias(int argc, char **argv)
{
	if (argc < 2)
		cli_usage("alias takes add, del or list");
	if (strcmp(argv[1], "add") == 0)
		return alias_edit(argc - 1, argv + 1, 1);
	if (strcmp(argv[1], "del") == 0)
		return alias_edit(argc - 1, argv + 1, 0);
	if (strcmp(argv[1], "list") == 0)
		return alias_list(argc - 1, argv + 1);
	cli_usage("alias takes add, del or list");
}

static int cmd_resolve(int argc, char **argv)
{
	struct resolver *r = &S.r;
	int status = 0, i;

	if (argc < 2)
		cli_usage("resolve takes addresses");
	for (i = 1; i < argc; i++) {
		struct target *t;
		struct err e;
		size_t n, k;

		if (resolve(r, argv[i], &t, &n, &e) < 0) {
			char safe[600];

			if (e.code != EX_NOUSER && e.code != EX_DATAERR)
				die_err(&e);
			printf("error %s: %s\n", argv[i], err_escape(safe, sizeof safe, e.msg, strlen(e.msg)));
			if (status == 0)
				status = e.code;
			continue;
		}
		for (k = 0; k < n; k++) {
			char path[PATH_MAX];
			struct user u;
			int maildir, rc;

			switch (t[k].kind) {
			case TARGET_LOCAL:
				rc = users_lookup(S.users, t[k].address, &u, NULL, &e);
				if (rc == 0)
					err_set(&e, EX_TEMPFAIL, "%s vanished from the users file", t[k].address);
				if (rc != 1 || users_mailbox(&u, S.mail_root, path, sizeof path, &maildir, &e) < 0)
					die_err(&e);
				printf("local %s %s%s%s\n", t[k].address, path,
				       t[k].detail ? " +" : "", t[k].detail ? t[k].detail : "");
				user_free(&u);
				break;
			case TARGET_REMOTE:
				printf("remote %s\n", t[k].address);
				break;
			case TARGET_COMMAND:
				printf("command %s\n", t[k].address);
				break;
			case TARGET_FILE:
				printf("file %s\n", t[k].address);
				break;
			case TARGET_ERROR:
				printf("error %s: %s\n", t[k].address, t[k].reason);
				if (status == 0)
					status = t[k].code;
				break;
			}
		}
		resolve_free(t, n);
	}
	resolver_free(r);
	return status;
}

/* ---- the global address list ---- */

static int cmd_find(int argc, char **argv)
{
	struct users_file f;
	char *term;
	size_t i;
	int found = 0;

	if (argc != 2)
		cli_usage("find takes one term");
	term = gal_fold(argv[1]);
	if (term == NULL)
		cli_die(EX_DATAERR, "the term is not valid UTF-8");
	open_users(&f, 0);
	for (i = 0; i < f.n; i++)
		if (f.user[i].address && !f.user[i].disabled && gal_match(&f.user[i], term)) {
			print_entry(&f.user[i]);
			found = 1;
		}
	users_close(&f);
	free(term);
	return found ? 0 : 1;
}

static int cmd_export(int argc, char **argv)
{
	static const struct option o[] = {
		{ "vcard", no_argument, NULL, OPT_VCARD },
		{ "ldif", no_argument, NULL, OPT_LDIF },
		{ "base", required_argument, NULL, OPT_BASE },
		{ NULL, 0, NULL, 0 },
	};
	char base[1024];
	const char *base_arg = NULL;
	struct users_file f;
	struct io_out *out;
	int c, format = 0;
	size_t i;

	while ((c = subopt(argc, argv, o)) != -1) {
		switch (c) {
		case OPT_VCARD: format = 'v'; break;
		case OPT_LDIF: format = 'l'; break;
		case OPT_BASE: base_arg = optarg; break;
		default: bad_option(argv);
		}
	}
	if (format == 0 || optind != argc)
		cli_usage("export takes --vcard or --ldif");
	if (base_arg)
		snprintf(base, sizeof base, "%s", base_arg);
	else if (gal_default_base(S.domain, base, sizeof base) < 0)
		cli_die(EX_CONFIG, "domain too long for a base DN");
	out = malloc(sizeof *out);
	if (out == NULL)
		cli_die(EX_TEMPFAIL, "out of memory");
	io_out_init(out, 1);
	open_users(&f, 0);
	if (format == 'l')
		io_out_write(out, "version: 1\n\n", 12);
	for (i = 0; i < f.n; i++) {
		if (f.user[i].address == NULL || f.user[i].disabled)
			continue;
		if (format == 'v')
			gal_vcard(out, &f.user[i]);
		else
			gal_ldif(out, &f.user[i], base);
	}
	users_close(&f);
	if (io_out_flush(out) < 0)
		cli_die(EX_IOERR, "cannot write to standard output");
	free(out);
	return 0;
}

/* ---- checkpassword ---- */

/* The qmail checkpassword interface: "login\0password\0timestamp\0" on fd
 * 3, then exec PROG with USER, HOME and MAILDIR set and the working
 * directory at HOME. Exit 1 on a wrong login, 2 on misuse, 111 when the
 * answer cannot be known, as qmail-popup and tcpserver chains expect. */
static int cmd_checkpassword(int argc, char **argv)
{
	char buf[514], user[ADDR_MAX + 1], path[PATH_MAX], trimmed[PATH_MAX], home[PATH_MAX];
	const char *login, *password;
	size_t len = 0;
	struct auth a;
	struct user u;
	struct err e;
	ssize_t r;
	int maildir, rc;

	if (argc < 2) {
		fprintf(stderr, "mail-user: checkpassword needs a program to run\n");
		return 2;
	}
	while (len < sizeof buf - 1 && (r = io_read(3, buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)r;
	if (len > 512) {   /* qmail's limit */
		fprintf(stderr, "mail-user: checkpassword: input longer than 512 bytes\n");
		return 2;
	}
	close(3);
	buf[len] = '\0';
	login = buf;
	password = memchr(buf, '\0', len) ? buf + strlen(buf) + 1 : NULL;
	if (password == NULL || memchr(password, '\0', len - (size_t)(password - buf)) == NULL ||
	    login[0] == '\0') {
		fprintf(stderr, "mail-user: checkpassword: malformed input on fd 3\n");
		explicit_bzero(buf, sizeof buf);
		return 2;
	}
	rc = auth_password(S.users, S.domain, login, password, user, &e);
	explicit_bzero(buf, sizeof buf);
	if (rc < 0) {
		fprintf(stderr, "mail-user: checkpassword: %s\n", e.msg);
		return 111;
	}
	if (rc == 0) {
		auth_init(&a, S.users, S.domain, S.auth_delay_ms);
		auth_delay(&a);
		return 1;
	}
	if (users_lookup(S.users, user, &u, NULL, &e) != 1 ||
	    users_mailbox(&u, S.mail_root, path, sizeof path, &maildir, &e) < 0) {
		fprintf(stderr, "mail-user: checkpassword: %s\n", e.msg);
		return 111;
	}
	/* HOME is the directory holding the Maildir or the mbox file. */
	snprintf(trimmed, sizeof trimmed, "%.*s", (int)strlen(path) - (maildir ? 1 : 0), path);
	if (file_dirname(trimmed, home, sizeof home, &e) < 0) {
		fprintf(stderr, "mail-user: checkpassword: %s\n", e.msg);
		return 111;
	}
	user_free(&u);
	if (setenv("USER", user, 1) < 0 || setenv("HOME", home, 1) < 0 ||
	    setenv(maildir ? "MAILDIR" : "MAIL", path, 1) < 0) {
		fprintf(stderr, "mail-user: checkpassword: out of memory\n");
		return 111;
	}
	if (chdir(home) < 0) {
		fprintf(stderr, "mail-user: checkpassword: cannot change to %s: %s\n", home, strerror(errno));
		return 111;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "mail-user: checkpassword: cannot run %s: %s\n", argv[1], strerror(errno));
	return 111;
}

/* ---- main ---- */

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "add", cmd_add }, { "del", cmd_del }, { "passwd", cmd_passwd },
	{ "disable", cmd_disable }, { "enable", cmd_enable }, { "list", cmd_list },
	{ "show", cmd_show }, { "check", cmd_check }, { "index", cmd_index },
	{ "alias", cmd_alias }, { "resolve", cmd_resolve }, { "find", cmd_find },
	{ "export", cmd_export }, { "checkpassword", cmd_checkpassword },
	{ "import", cmd_import },
};

int main(int argc, char **argv)
{
	enum { OPT_CONFIG = 300, OPT_USERS, OPT_ALIASES };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "users", required_argument, NULL, OPT_USERS },
		{ "aliases", required_argument, NULL, OPT_ALIASES },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *users = NULL, *aliases = NULL;
	size_t i;
	int c;

	cli_init("mail-user");
	opterr = 0;   /* one line of our own on stderr, not getopt's too */
	while ((c = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: config = optarg; break;
		case OPT_USERS: users = optarg; break;
		case OPT_ALIASES: aliases = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("mail-user (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION); return 0;
		default: cli_usage("unknown option");
		}
	}
	if (optind >= argc)
		cli_usage("no command given");
	load_settings(config, users, aliases);
	for (i = 0; i < sizeof commands / sizeof *commands; i++)
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;

			optind = 0;   /* restart getopt for the subcommand's options */
			c = commands[i].run(sub_argc, sub_argv);
			if (fflush(stdout) != 0 || ferror(stdout))
				cli_die(EX_IOERR, "cannot write to standard output");
			conf_free(&S.conf);
			return c;
		}
	cli_usage("unknown command");
}
