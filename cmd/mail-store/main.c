/* mail-store: deliver one message from stdin into a Maildir or an mbox.
 *
 * Design: this file only turns flags, environment and configuration into a
 * delivery request; lib/maildir.c and lib/mbox.c do the work and decide
 * durability. Success is reported (exit 0) only after the message and its
 * directory entry are fsync'd. Exit codes follow sysexits(3) so a caller
 * (mail-send, Postfix pipe(8), qmail-local, procmail) can tell "try again"
 * from "never". stdin is not the network, so it has no read timeout: the
 * caller owns the pipe. */
#include "config.h"

#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "err.h"
#include "maildir.h"
#include "mbox.h"
#include "quota.h"

#define ADDR_MAX 998            /* an SMTP path is at most 256; be lenient */
#define DEFAULT_LOCK_TIMEOUT 30 /* seconds */

static const char usage_text[] =
"usage: mail-store [--maildir DIR | --mbox FILE] [--folder NAME] [--junk NAME]\n"
"                  [-f SENDER]\n"
"                  [-r RECIPIENT] [--quota BYTES[,COUNT]] [--quota-bounce]\n"
"                  [--lock-timeout SECONDS] [--hostname NAME] [--config FILE] [-v]\n"
"Deliver one message read from standard input.\n"
"  --maildir DIR        deliver into the Maildir DIR (created if missing)\n"
"  --mbox FILE          append to the mboxrd file FILE (created if missing)\n"
"  --folder NAME        Maildir++ folder, e.g. Work/Reports (INBOX = the Maildir)\n"
"  --junk NAME          folder for mail whose header says X-Spam-Flag: YES, when\n"
"                       no --folder is given (default Junk; '' keeps it in INBOX)\n"
"  -f SENDER            envelope sender for Return-Path: ('' or <> = null sender)\n"
"  -r RECIPIENT         envelope recipient for Delivered-To: and loop detection\n"
"  --quota B[,C]        Maildir++ quota: bytes (K/M/G/T suffixes) and message count\n"
"  --quota-bounce       over quota exits 69 (bounce) instead of 75 (retry)\n"
"  --lock-timeout S     give up on a busy mbox after S seconds (default 30)\n"
"  --hostname NAME      host part of Maildir file names (default: the host name)\n"
"  --config FILE        configuration file (default $MAIL_CONF, " SYSCONFDIR "/mail.conf)\n"
"  -v, --verbose        report the delivered file on stderr\n"
"  -h, --help           show this help;  -V, --version  show the version\n"
"Without --maildir or --mbox: $MAILBOX (a Maildir when it ends in '/'), else\n"
"home_mailbox from mail.conf (default Maildir/) under $HOME.\n"
"Environment: SENDER, RECIPIENT, MAILBOX, HOME, USER, MAIL_CONF, TMPDIR.\n";

/* An envelope address from a flag or the environment, "<a@b>" or "a@b",
 * "" or "<>" for the null sender, copied into buf without the brackets.
 * Control characters would let a sender write header lines of its own. */
static const char *envelope_address(const char *s, const char *what, char buf[ADDR_MAX + 1])
{
	size_t n = strlen(s);

	if (n > ADDR_MAX) {
		fprintf(stderr, "mail-store: %s address too long\n", what);
		exit(EX_USAGE);
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			fprintf(stderr, "mail-store: %s address has a control character\n", what);
			exit(EX_USAGE);
		}
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s++;
		n -= 2;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

/* The user's home directory: $HOME, else the passwd entry of $USER, else
 * that of the real uid. */
static const char *home_dir(void)
{
	const char *home = getenv("HOME"), *user = getenv("USER");
	struct passwd *pw;

	if (home != NULL && home[0] == '/')
		return home;
	if (user != NULL && user[0] != '\0') {
		pw = getpwnam(user);
		if (pw == NULL) {
			fprintf(stderr, "mail-store: unknown user %s\n", user);
			exit(EX_NOUSER);
		}
	} else {
		pw = getpwuid(getuid());
		if (pw == NULL)
			cli_die(EX_NOUSER, "no home directory: set HOME or use --maildir/--mbox");
	}
	return pw->pw_dir;
}

static void report(int verbose, const char *path, const struct msg_stats *st)
{
	if (verbose)
		fprintf(stderr, "mail-store: delivered path=%s size=%llu\n", path,
		        (unsigned long long)st->size);
}

enum { OPT_MAILDIR = 256, OPT_MBOX, OPT_FOLDER, OPT_JUNK, OPT_QUOTA, OPT_QUOTA_BOUNCE,
       OPT_LOCK_TIMEOUT, OPT_HOSTNAME, OPT_CONFIG };

static const struct option longopts[] = {
	{ "maildir", required_argument, NULL, OPT_MAILDIR },
	{ "mbox", required_argument, NULL, OPT_MBOX },
	{ "folder", required_argument, NULL, OPT_FOLDER },
	{ "junk", required_argument, NULL, OPT_JUNK },
	{ "quota", required_argument, NULL, OPT_QUOTA },
	{ "quota-bounce", no_argument, NULL, OPT_QUOTA_BOUNCE },
	{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	const char *maildir = NULL, *mbox = NULL, *folder = NULL, *config = NULL, *junk = "Junk";
	const char *sender = NULL, *recipient = NULL, *hostname = NULL, *lock_arg = NULL;
	const char *quota_arg = NULL, *s;
	char path[PATH_MAX], sender_buf[ADDR_MAX + 1], recipient_buf[ADDR_MAX + 1];
	struct quota quota;
	struct msg_opts mo;
	struct conf conf;
	struct err e = { 0, "" };
	unsigned long lock_timeout;
	int quota_code = EX_TEMPFAIL, verbose = 0, junk_set = 0, c;

	cli_init("mail-store");
	/* Over RLIMIT_FSIZE, write() must fail with EFBIG so the append is
	 * undone, rather than the process dying half-way. */
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);

	opterr = 0;   /* one line of our own on stderr, not getopt's */
	while ((c = getopt_long(argc, argv, ":f:r:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MAILDIR: maildir = optarg; break;
		case OPT_MBOX: mbox = optarg; break;
		case OPT_FOLDER: folder = optarg; break;
		case OPT_JUNK: junk = optarg; junk_set = 1; break;
		case OPT_QUOTA: quota_arg = optarg; break;
		case OPT_QUOTA_BOUNCE: quota_code = EX_UNAVAILABLE; break;
		case OPT_LOCK_TIMEOUT: lock_arg = optarg; break;
		case OPT_HOSTNAME: hostname = optarg; break;
		case OPT_CONFIG: config = optarg; break;
		case 'f': sender = envelope_address(optarg, "sender", sender_buf); break;
		case 'r': recipient = envelope_address(optarg, "recipient", recipient_buf); break;
		case 'v': verbose = 1; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': puts("mail-store (" PACKAGE_NAME ") " PACKAGE_VERSION); return 0;
		case ':': cli_usage("option needs an argument");
		default: cli_usage("unknown option");
		}
	}
	if (optind != argc)
		cli_usage("unexpected argument");
	if (maildir != NULL && mbox != NULL)
		cli_usage("--maildir and --mbox are exclusive");

	if (conf_load(&conf, config, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	if (sender == NULL && (s = getenv("SENDER")) != NULL)
		sender = envelope_address(s, "sender", sender_buf);
	if (recipient == NULL && (s = getenv("RECIPIENT")) != NULL)
		recipient = envelope_address(s, "recipient", recipient_buf);
	if (recipient != NULL && recipient[0] == '\0')
		recipient = NULL;   /* -r '' or <>: no Delivered-To:, no loop check */
	if (hostname == NULL) {
		hostname = conf_get(&conf, CONF_HOSTNAME, NULL);
		if (hostname != NULL && hostname[0] == '\0')
			cli_die(EX_CONFIG, "empty hostname in the configuration");
	}
	if (lock_arg != NULL) {
		char *end;
		lock_timeout = strtoul(lock_arg, &end, 10);
		if (*lock_arg < '0' || *lock_arg > '9' || *end != '\0' || lock_timeout > 86400)
			cli_usage("--lock-timeout takes seconds from 0 to 86400");
	} else if (conf_get_uint(&conf, CONF_LOCK_TIMEOUT, DEFAULT_LOCK_TIMEOUT, 86400,
	                         &lock_timeout, &e) < 0) {
		cli_die(e.code, "%s", e.msg);
	}
	if (quota_arg != NULL && quota_parse(quota_arg, &quota, &e) < 0)
		cli_usage(e.msg);

	if (maildir == NULL && mbox == NULL) {
		/* $MAILBOX, as mail-send sets it for a delivery_command; else
		 * home_mailbox relative to the home directory, as Postfix's */
		const char *hm = conf_get(&conf, CONF_HOME_MAILBOX, "Maildir/");
		int w;

		if ((s = getenv("MAILBOX")) != NULL && s[0] != '\0') {
			if (s[0] != '/')
				cli_die(EX_CONFIG, "MAILBOX must be an absolute path");
			w = snprintf(path, sizeof path, "%s", s);
		} else {
			if (hm[0] == '\0' || hm[0] == '/')
				cli_die(EX_CONFIG, "home_mailbox must be a path relative to the home directory");
			w = snprintf(path, sizeof path, "%s/%s", home_dir(), hm);
		}
		if (w < 0 || (size_t)w >= sizeof path)
			cli_die(EX_CONFIG, "mailbox path too long");
		/* a trailing '/' makes it a Maildir */
		if (path[w - 1] == '/') {
			while (w > 1 && path[w - 1] == '/')
				path[--w] = '\0';
			maildir = path;
		} else {
			mbox = path;
		}
	}
	if (folder != NULL && mbox != NULL)
		cli_usage("--folder needs a Maildir");
	if (quota_arg != NULL && mbox != NULL)
		cli_usage("--quota needs a Maildir");
	if (junk_set && mbox != NULL)
		cli_usage("--junk needs a Maildir");

	mo.return_path = sender;
	mo.delivered_to = recipient;
	mo.mboxrd = 0;
	if (maildir != NULL) {
		struct maildir_delivery d = {
			.root = maildir, .folder = folder, .host = hostname, .msg = &mo,
			.quota = quota_arg != NULL ? &quota : NULL, .over_quota_code = quota_code,
			.junk = junk,
		};
		if (maildir_deliver(&d, 0, &e) < 0)
			cli_die(e.code, "%s", e.msg);
		report(verbose, d.path, &d.stats);
	} else {
		struct mbox_delivery d = {
			.path = mbox, .sender = sender, .msg = &mo, .lock_timeout = (int)lock_timeout,
		};
		if (mbox_deliver(&d, 0, &e) < 0)
			cli_die(e.code, "%s", e.msg);
		report(verbose, mbox, &d.stats);
	}
	conf_free(&conf);
	return 0;
}
