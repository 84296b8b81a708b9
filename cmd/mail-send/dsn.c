/* dsn.c: delivery status notifications (RFC 3464): a multipart/report
 * with a text for people, a message/delivery-status for programs, and the
 * original message (or its header), queued from the null sender to the
 * original sender, so a notice is never answered by another. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "send.h"
#include "smtp.h"

#define SUMMARY "*"
#define FULL_MAX (100UL * 1024)   /* larger originals come back as header only */

static void put(struct queue_msg *m, const char *s)
{
	queue_write(m, s, strlen(s));
}

static void putf(struct queue_msg *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct queue_msg *m, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		queue_write(m, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Is s printable US-ASCII, as a decoded ENVID or ORCPT must be (RFC 3461)?
 * Anything else, such as an encoded CR LF, would break the report. */
static int printable(const char *s)
{
	for (; *s; s++)
		if (*s < ' ' || *s > '~')
			return 0;
	return 1;
}

static void date822(char *out, size_t outsz, time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, outsz, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* Split an outcome text ("5.1.1 host[ip] said: 550 ... (in reply to X)"
 * or "5.1.1 reason") into its status, remote MTA and diagnostic. */
static void split_text(const char *text, char *status, size_t ssz, char *mta, size_t msz,
                       char *diag, size_t dsz)
{
	size_t n = strspn(text, "0123456789.");
	const char *rest = text, *said;

	if (n >= 5 && n < ssz && (text[0] == '2' || text[0] == '4' || text[0] == '5') &&
	    text[1] == '.' && (text[n] == ' ' || text[n] == '\0')) {
		memcpy(status, text, n);
		status[n] = '\0';
		rest = text + n + (text[n] == ' ');
	} else {
		snprintf(status, ssz, "5.0.0");
	}
	mta[0] = '\0';
	if ((said = strstr(rest, " said: ")) != NULL) {
		const char *br = memchr(rest, '[', (size_t)(said - rest));

		snprintf(mta, msz, "%.*s", (int)((br ? br : said) - rest), rest);
		snprintf(diag, dsz, "smtp; %s", said + 7);
	} else {
		snprintf(diag, dsz, "x-unix; %s", rest);
	}
}

int dsn_queue(struct send_config *c, const struct queue_file *f,
              const struct queue_state *s, const size_t *idx, size_t n,
              const char *action, char *id, struct err *e)
{
	struct queue_rcpt to = { .address = f->env.sender };
	struct queue_env env = { .sender = "", .rcpt = &to, .nrcpt = 1 };
	struct queue_msg m;
	char date[64], boundary[200], buf[65536];
	int failed = strcmp(action, "failed") == 0, delayed = strcmp(action, "delayed") == 0;
	int full = failed && (f->env.ret == NULL || strcmp(f->env.ret, "FULL") == 0) &&
	           f->size <= FULL_MAX;
	time_t now = time(NULL);
	uint64_t off, end;

	/* a message refused for what it holds (5.6.x: malware, say) comes
	 * back as its header alone: whole, it would be refused again on its
	 * way to the sender, and lost */
	for (size_t k = 0; k < n && full; k++) {
		const struct queue_event *ev = queue_state_get(s, idx[k], SUMMARY);

		if (ev != NULL && strncmp(ev->text, "5.6.", 4) == 0)
			full = 0;
	}

	env.body = full && f->env.body ? f->env.body : NULL;
	env.smtputf8 = f->env.smtputf8;
	if (queue_open(&m, c->queue_dir, &env, e) < 0)
		return -1;
	snprintf(id, QUEUE_ID_MAX, "%s", m.id);
	snprintf(boundary, sizeof boundary, "%s/%s=_report", m.id, c->hostname);
	date822(date, sizeof date, now);
	putf(&m, "From: Mail Delivery System <MAILER-DAEMON@%s>\n", c->hostname);
	putf(&m, "To: <%s>\n", f->env.sender);
	putf(&m, "Subject: %s\n",
	     failed ? "Undelivered Mail Returned to Sender"
	            : delayed ? "Delayed Mail (still being retried)"
	                      : "Successful Mail Delivery Report");
	putf(&m, "Date: %s\n", date);
	putf(&m, "Message-ID: <%s@%s>\n", m.id, c->hostname);
	put(&m, "Auto-Submitted: auto-replied\n");
	put(&m, "MIME-Version: 1.0\n");
	putf(&m, "Content-Type: multipart/report; report-type=delivery-status;\n"
	         "\tboundary=\"%s\"\n\n", boundary);
	put(&m, "This is a MIME-encapsulated message.\n\n");

	/* for people */
	putf(&m, "--%s\nContent-Description: Notification\n"
	         "Content-Type: text/plain; charset=utf-8\n\n", boundary);
	putf(&m, "This is the mail system at host %s.\n\n", c->hostname);
	if (failed) {
		put(&m, "I'm sorry to have to inform you that your message could not\n"
		        "be delivered to one or more recipients. It's attached below.\n\n");
	} else if (delayed) {
		char until[64];

		date822(until, sizeof until, (time_t)(f->arrival + (long long)c->lifetime));
		putf(&m, "Your message could not be delivered for %lld minutes.\n"
		         "It will be retried until %s.\n\n",
		     (long long)(now - f->arrival) / 60, until);
	} else {
		put(&m, "Your message was successfully delivered to the destination(s)\n"
		        "listed below.\n\n");
	}
	for (size_t k = 0; k < n; k++) {
		const struct queue_event *ev = queue_state_get(s, idx[k], SUMMARY);

		putf(&m, "<%s>: %s\n", f->rcpt[idx[k]].address, ev ? ev->text : "");
	}
	put(&m, "\n");

	/* for programs */
	putf(&m, "--%s\nContent-Description: Delivery report\n"
	         "Content-Type: message/delivery-status\n\n", boundary);
	putf(&m, "Reporting-MTA: dns; %s\n", c->hostname);
	putf(&m, "X-Mail-Toolkit-Queue-ID: %s\n", f->id);
	if (f->env.envid != NULL && smtp_xtext_decode(f->env.envid, buf, 200) >= 0 &&
	    printable(buf))
		putf(&m, "Original-Envelope-Id: %s\n", buf);
	if (f->env.client != NULL)
		putf(&m, "Received-From-MTA: dns; [%s]\n", f->env.client);
	date822(date, sizeof date, (time_t)f->arrival);
	putf(&m, "Arrival-Date: %s\n", date);
	for (size_t k = 0; k < n; k++) {
		const struct queue_rcpt *r = &f->rcpt[idx[k]];
		const struct queue_event *ev = queue_state_get(s, idx[k], SUMMARY);
		char status[16], mta[600], diag[700];

		split_text(ev ? ev->text : "", status, sizeof status, mta, sizeof mta, diag,
		           sizeof diag);
		put(&m, "\n");
		putf(&m, "Final-Recipient: rfc822; %s\n", r->address);
		if (r->orcpt != NULL) {
			const char *semi = strchr(r->orcpt, ';');

			if (semi != NULL && smtp_xtext_decode(semi + 1, buf, 600) >= 0 && printable(buf))
				putf(&m, "Original-Recipient: %.*s; %s\n", (int)(semi - r->orcpt),
				     r->orcpt, buf);
		}
		putf(&m, "Action: %s\n", action);
		putf(&m, "Status: %s\n", status);
		if (mta[0])
			putf(&m, "Remote-MTA: dns; %s\n", mta);
		putf(&m, "Diagnostic-Code: %s\n", diag);
		if (ev != NULL) {
			date822(date, sizeof date, (time_t)ev->at);
			putf(&m, "Last-Attempt-Date: %s\n", date);
		}
		if (delayed) {
			date822(date, sizeof date, (time_t)(f->arrival + (long long)c->lifetime));
			putf(&m, "Will-Retry-Until: %s\n", date);
		}
	}
	put(&m, "\n");

	/* the original: all of it for a failure (unless RET=HDRS or large),
	 * else its header */
	putf(&m, "--%s\nContent-Description: %s\nContent-Type: %s\n\n", boundary,
	     full ? "Undelivered Message" : "Message Headers",
	     full ? "message/rfc822" : "text/rfc822-headers");
	off = f->body_at;
	end = f->body_at + f->size;
	for (int prev_nl = 0; off < end;) {
		ssize_t r = pread(f->fd, buf, end - off < sizeof buf ? (size_t)(end - off) : sizeof buf,
		                  (off_t)off);
		size_t take;

		if (r <= 0) {
			queue_abort(&m);
			return err_sys(e, EX_TEMPFAIL, "read %s", f->id);
		}
		take = (size_t)r;
		if (!full) {
			/* up to the empty line that ends the header */
			for (size_t i = 0; i < (size_t)r; i++) {
				if (buf[i] == '\n' && prev_nl) {
					take = i;
					end = off;   /* stop after this piece */
					break;
				}
				prev_nl = buf[i] == '\n';
			}
		}
		queue_write(&m, buf, take);
		off += (uint64_t)r;
	}
	putf(&m, "\n--%s--\n", boundary);
	return queue_commit(&m, e);
}
