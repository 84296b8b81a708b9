/* local.c: delivery to the places a local recipient resolves to. An
 * account's mail goes through mail-filter and mail-store (or the
 * delivery_command pipeline) into the mailbox its users-file line names; an alias's /file
 * through mail-store too, and its |command through /bin/sh, which only
 * an admin can have written (allow_mail_to_commands). Addresses reach
 * programs in the environment only, never in a shell command line.
 *
 * A pipeline "filter | mail-store" runs one stage at a time, each
 * writing into an unlinked file the next one reads: a stage that fails
 * half way never leaves the next one to deliver half a message. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "run.h"
#include "send.h"
#include "users.h"

#define STAGE_TIMEOUT 600   /* seconds for each program */
#define MAX_ARGS (DELIVERY_WORDS_MAX + 8)

/* The enhanced status code for a program's failure (DESIGN.md exit codes). */
static const char *status_code(const struct run_result *r)
{
	if (!r->permanent)
		return "4.3.0";
	switch (WEXITSTATUS(r->status)) {
	case EX_NOUSER: return "5.1.1";
	case EX_NOHOST: return "5.1.2";
	case EX_DATAERR: return "5.6.0";
	case EX_UNAVAILABLE: return "5.2.2";
	case EX_NOPERM: return "5.7.1";
	case EX_CONFIG: return "5.3.5";
	default: return "5.3.0";
	}
}

/* Run argv, stages separated by "|" words, with the message on stdin. */
static void run_stages(const struct send_config *c, const struct queue_file *f,
                       char *const *argv, char *const *env, struct outcome *o)
{
	char *stage[MAX_ARGS + 1];
	struct run_result r;
	struct err e;
	char path[4200];
	size_t i = 0;
	int in;

	snprintf(path, sizeof path, "%s/msg/%s", c->queue_dir, f->id);
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0 || lseek(in, (off_t)f->body_at, SEEK_SET) < 0) {
		o->st = QS_DEFERRED;
		snprintf(o->text, sizeof o->text, "4.3.0 cannot read %.300s: %s", path, strerror(errno));
		if (in >= 0)
			close(in);
		return;
	}
	while (argv[i] != NULL) {
		size_t n = 0;
		int out = -1, last;

		while (argv[i] != NULL && strcmp(argv[i], "|") != 0 && n < MAX_ARGS)
			stage[n++] = argv[i++];
		stage[n] = NULL;
		last = argv[i] == NULL;
		if (!last) {
			i++;   /* the "|" */
			/* a stage's output: unlinked, in the queue's tmp/ */
			snprintf(path, sizeof path, "%s/tmp", c->queue_dir);
			if ((out = file_scratch(path, &e)) < 0) {
				o->st = QS_DEFERRED;
				snprintf(o->text, sizeof o->text, "4.3.0 %s", e.msg);
				break;
			}
		}
		(void)run_program(stage, env, in, out, c->delivery_as, time(NULL) + STAGE_TIMEOUT, &r);
		close(in);
		in = -1;
		if (!r.ok) {
			const char *base = strrchr(stage[0], '/');

			o->st = r.permanent ? QS_FAILED : QS_DEFERRED;
			if (r.status >= 0 && WIFSIGNALED(r.status))
				snprintf(o->text, sizeof o->text, "%s %s: killed by signal %d%s%s",
				         status_code(&r), base ? base + 1 : stage[0], WTERMSIG(r.status),
				         r.reason[0] ? ": " : "", r.reason);
			else if (strncmp(r.reason, base ? base + 1 : stage[0],
			                 strlen(base ? base + 1 : stage[0])) == 0)
				/* it named itself already: "mail-store: over quota" */
				snprintf(o->text, sizeof o->text, "%s %s (exit %d)", status_code(&r), r.reason,
				         r.status >= 0 ? WEXITSTATUS(r.status) : -1);
			else
				snprintf(o->text, sizeof o->text, "%s %s: %s (exit %d)", status_code(&r),
				         base ? base + 1 : stage[0], r.reason[0] ? r.reason : "failed",
				         r.status >= 0 ? WEXITSTATUS(r.status) : -1);
			if (out >= 0)
				close(out);
			return;
		}
		if (last) {
			o->st = QS_DELIVERED;
			snprintf(o->text, sizeof o->text, "2.0.0 delivered%s%s", r.reason[0] ? ": " : "",
			         r.reason);
			return;
		}
		in = out;
		if (lseek(in, 0, SEEK_SET) < 0) {
			close(in);
			o->st = QS_DEFERRED;
			snprintf(o->text, sizeof o->text, "4.3.0 lseek: %s", strerror(errno));
			return;
		}
	}
	if (in >= 0)
		close(in);
}

void local_deliver(struct send_config *c, const struct queue_file *f, const char *rcpt,
                   const struct target *t, struct outcome *o)
{
	char mailbox[4200], e_sender[600], e_rcpt[600], e_user[600], e_home[4300], e_box[4300],
	     e_orig[600], e_detail[300];
	char *env[] = { e_sender, e_rcpt, e_user, e_home, e_box, e_orig, e_detail, NULL };
	const char *sender = f->env.sender[0] ? f->env.sender : "<>";
	char *argv[MAX_ARGS + 8];
	struct user u = { 0 };
	struct err e;
	size_t n = 0;
	int maildir = 0;

	snprintf(e_sender, sizeof e_sender, "SENDER=%s", f->env.sender);
	snprintf(e_orig, sizeof e_orig, "ORIGINAL_RECIPIENT=%s", rcpt);
	/* the +detail of the address the account was reached by, for a
	 * delivery_command to sort by */
	snprintf(e_detail, sizeof e_detail, "DETAIL=%s", t->detail ? t->detail : "");
	switch (t->kind) {
	case TARGET_LOCAL: {
		int found = users_lookup(c->resolver.users_file, t->address, &u, NULL, &e);

		if (found <= 0) {
			o->st = found == 0 ? QS_FAILED : QS_DEFERRED;
			snprintf(o->text, sizeof o->text, "%s %s", found == 0 ? "5.1.1" : "4.3.0",
			         found == 0 ? "no such account" : e.msg);
			return;
		}
		if (users_mailbox(&u, c->mail_root, mailbox, sizeof mailbox, &maildir, &e) < 0) {
			o->st = QS_DEFERRED;
			snprintf(o->text, sizeof o->text, "4.3.5 %s", e.msg);
			user_free(&u);
			return;
		}
		snprintf(e_rcpt, sizeof e_rcpt, "RECIPIENT=%s", t->address);
		snprintf(e_user, sizeof e_user, "USER=%s", t->address);
		if (c->delivery != NULL) {
			for (n = 0; n < MAX_ARGS && c->delivery[n] != NULL; n++)
				argv[n] = c->delivery[n];
		} else {
			/* spam the filter flags goes to the Junk folder (mail-store --junk) */
			if (c->mail_filter != NULL) {
				argv[n++] = (char *)c->mail_filter;
				argv[n++] = "|";
			}
			argv[n++] = (char *)c->mail_store;
			argv[n++] = maildir ? "--maildir" : "--mbox";
			argv[n++] = mailbox;
			if (u.quota[0] != '\0') {
				argv[n++] = "--quota";
				argv[n++] = u.quota;
			}
			argv[n++] = "-f";
			argv[n++] = (char *)sender;
			argv[n++] = "-r";
			argv[n++] = (char *)t->address;
		}
		break;
	}
	case TARGET_FILE:
		snprintf(mailbox, sizeof mailbox, "%s", t->address);
		maildir = mailbox[0] && mailbox[strlen(mailbox) - 1] == '/';
		snprintf(e_rcpt, sizeof e_rcpt, "RECIPIENT=%s", rcpt);
		snprintf(e_user, sizeof e_user, "USER=%s", rcpt);
		argv[n++] = (char *)c->mail_store;
		argv[n++] = maildir ? "--maildir" : "--mbox";
		argv[n++] = mailbox;
		argv[n++] = "-f";
		argv[n++] = (char *)sender;
		argv[n++] = "-r";
		argv[n++] = (char *)rcpt;
		break;
	case TARGET_COMMAND:
		mailbox[0] = '\0';
		snprintf(e_rcpt, sizeof e_rcpt, "RECIPIENT=%s", rcpt);
		snprintf(e_user, sizeof e_user, "USER=%s", rcpt);
		argv[n++] = "/bin/sh";
		argv[n++] = "-c";
		argv[n++] = t->address + (t->address[0] == '|');
		break;
	default:
		o->st = QS_DEFERRED;
		snprintf(o->text, sizeof o->text, "4.3.0 not a local target");
		return;
	}
	argv[n] = NULL;
	/* MAILBOX for a mail-store at the end of a delivery_command; HOME is
	 * the directory the mailbox is in */
	snprintf(e_box, sizeof e_box, "MAILBOX=%s", mailbox);
	snprintf(e_home, sizeof e_home, "HOME=%s", mailbox[0] == '/' ? mailbox : "/");
	{
		size_t len = strlen(e_home);

		while (len > 6 && e_home[len - 1] == '/')
			e_home[--len] = '\0';
		if (strrchr(e_home, '/') > e_home + 5)
			*strrchr(e_home, '/') = '\0';
	}
	run_stages(c, f, argv, env, o);
	user_free(&u);
}
