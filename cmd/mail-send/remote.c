/* remote.c: delivery to another mail server, with libcurl as the SMTP
 * engine. The hosts come from a route (--route, routes), the relayhost,
 * or the domain's MX records (res_query; no MX: the domain itself; a null
 * MX: a bounce). Each host gets one transaction for all the domain's
 * recipients; libcurl's debug callback hands us every command it sends
 * and every reply it reads, in order, so each recipient gets the reply to
 * its own RCPT and the accepted ones the reply to the end of data.
 *
 * The message goes out with CR LF line ends however it is stored: a lone
 * LF or CR becomes CR LF, so we never send the bare line ends that SMTP
 * smuggling relies on; libcurl doubles leading dots. */
#include "config.h"

#include <arpa/nameser.h>
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "file.h"
#include "send.h"

#define MX_MAX 16
#define CONNECT_TIMEOUT 30L      /* seconds */
#define REPLY_TIMEOUT 300L       /* per command, RFC 5321 4.5.3.2 */

void remote_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct mx {
	char host[NS_MAXDNAME];
	unsigned pref;
	unsigned rnd;
};

static int cmp_mx(const void *a, const void *b)
{
	const struct mx *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return x->rnd < y->rnd ? -1 : x->rnd > y->rnd;
}

/* The MX hosts of domain, best first, equals in random order. Returns the
 * count (the domain itself when it has no MX), 0 for a null MX (RFC
 * 7505), or -1 with o set (deferred, or failed for a domain that does not
 * exist). */
static int mx_lookup(const char *domain, struct mx *mx, struct outcome *o)
{
	unsigned char answer[NS_PACKETSZ * 4];
	ns_msg msg;
	int len, n = 0;

	len = res_query(domain, ns_c_in, ns_t_mx, answer, sizeof answer);
	if (len < 0) {
		if (h_errno == HOST_NOT_FOUND) {
			o->st = QS_FAILED;
			snprintf(o->text, sizeof o->text, "5.1.2 domain %s does not exist", domain);
			return -1;
		}
		if (h_errno == NO_DATA) {
			snprintf(mx[0].host, sizeof mx[0].host, "%s", domain);
			return 1;
		}
		o->st = QS_DEFERRED;
		snprintf(o->text, sizeof o->text, "4.4.3 cannot look up the MX of %s: %s", domain,
		         hstrerror(h_errno));
		return -1;
	}
	if (ns_initparse(answer, len, &msg) < 0) {
		o->st = QS_DEFERRED;
		snprintf(o->text, sizeof o->text, "4.4.3 malformed DNS answer for %s", domain);
		return -1;
	}
	for (int i = 0; i < ns_msg_count(msg, ns_s_an) && n < MX_MAX; i++) {
		ns_rr rr;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_mx ||
		    ns_rr_rdlen(rr) < 3)
			continue;
		mx[n].pref = ns_get16(ns_rr_rdata(rr));
		if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr) + 2, mx[n].host,
		              sizeof mx[n].host) < 0)
			continue;
		mx[n].rnd = (unsigned)random();
		n++;
	}
	if (n == 1 && mx[0].host[0] == '\0')
		return 0;   /* "MX 0 ." */
	if (n == 0) {
		snprintf(mx[0].host, sizeof mx[0].host, "%s", domain);
		return 1;
	}
	qsort(mx, (size_t)n, sizeof *mx, cmp_mx);
	return n;
}

/* One SMTP transaction as the debug callback sees it. */
struct txn {
	int fd;                  /* the message file */
	uint64_t off, stop;      /* what is left of the message part */
	int cr;                  /* the last byte read was a CR */
	int pending_lf;          /* a LF still owed after a CR */
	char cmd[16];            /* the verb last sent: "MAIL", "RCPT", "STARTTLS", ... */
	size_t rcpt_sent;        /* RCPT commands so far */
	int data_replies;        /* final replies since DATA */
	char line[1024];         /* a reply line being collected */
	size_t linelen;
	/* the replies that matter: code 0 = none */
	int greet_code, mail_code, data_code, end_code, other_code;
	char other_cmd[16];
	char greet[512], mail[512], endtext[512], other[512];
	int *rcpt_code;
	char (*rcpt_text)[512];
	size_t nrcpt;
	int tls;                 /* STARTTLS was answered 220 */
};

static void take_reply(struct txn *t, const char *line)
{
	int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');

	if (t->cmd[0] == '\0') {
		t->greet_code = code;
		snprintf(t->greet, sizeof t->greet, "%.500s", line);
	} else if (strcmp(t->cmd, "MAIL") == 0) {
		t->mail_code = code;
		snprintf(t->mail, sizeof t->mail, "%.500s", line);
	} else if (strcmp(t->cmd, "RCPT") == 0) {
		if (t->rcpt_sent > 0 && t->rcpt_sent <= t->nrcpt) {
			t->rcpt_code[t->rcpt_sent - 1] = code;
			snprintf(t->rcpt_text[t->rcpt_sent - 1], sizeof t->rcpt_text[0], "%.500s", line);
		}
	} else if (strcmp(t->cmd, "DATA") == 0) {
		if (t->data_replies++ == 0) {
			t->data_code = code;
		} else {
			t->end_code = code;
			snprintf(t->endtext, sizeof t->endtext, "%.500s", line);
		}
	} else {
		if (strcmp(t->cmd, "STARTTLS") == 0 && code == 220)
			t->tls = 1;
		if (code >= 400) {
			t->other_code = code;
			snprintf(t->other_cmd, sizeof t->other_cmd, "%s", t->cmd);
			snprintf(t->other, sizeof t->other, "%.500s", line);
		}
	}
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	struct txn *t = arg;

	(void)h;
	if (type == CURLINFO_HEADER_OUT) {
		size_t n = 0;

		/* the verb: up to the first blank or line end */
		while (n < size && n < sizeof t->cmd - 1 && data[n] != ' ' && data[n] != '\r' &&
		       data[n] != '\n') {
			char ch = data[n];

			t->cmd[n++] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
		}
		t->cmd[n] = '\0';
		if (strcmp(t->cmd, "RCPT") == 0)
			t->rcpt_sent++;
		if (strcmp(t->cmd, "DATA") == 0)
			t->data_replies = 0;
	} else if (type == CURLINFO_HEADER_IN) {
		/* whole lines, possibly several per call */
		for (size_t i = 0; i < size; i++) {
			char ch = data[i];

			if (ch == '\n') {
				while (t->linelen > 0 && t->line[t->linelen - 1] == '\r')
					t->linelen--;
				t->line[t->linelen] = '\0';
				/* "250 text" or "250" ends a reply; "250-text" continues it */
				if (t->linelen >= 3 && t->line[0] >= '2' && t->line[0] <= '5' &&
				    (t->linelen == 3 || t->line[3] == ' '))
					take_reply(t, t->line);
				t->linelen = 0;
			} else if (t->linelen < sizeof t->line - 1) {
				t->line[t->linelen++] = ch;
			}
		}
	}
	return 0;
}

/* The message part with CR LF line ends. */
static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct txn *t = arg;
	size_t room = size * nitems, out = 0;
	char in[16384];

	while (out + 2 <= room) {
		size_t want = (room - out) / 2;
		ssize_t r;

		if (t->pending_lf) {
			buf[out++] = '\n';
			t->pending_lf = 0;
			continue;
		}
		if (t->off >= t->stop)
			break;
		if (want > sizeof in)
			want = sizeof in;
		if (want > t->stop - t->off)
			want = (size_t)(t->stop - t->off);
		r = pread(t->fd, in, want, (off_t)t->off);
		if (r <= 0)
			return CURL_READFUNC_ABORT;
		t->off += (uint64_t)r;
		for (ssize_t i = 0; i < r; i++) {
			if (in[i] == '\n') {
				if (!t->cr)
					buf[out++] = '\r';
				buf[out++] = '\n';
				t->cr = 0;
			} else {
				if (t->cr) {
					/* a CR not followed by LF */
					buf[out++] = '\n';
				}
				t->cr = in[i] == '\r';
				buf[out++] = in[i];
			}
		}
	}
	if (out == 0 && t->cr && t->off >= t->stop) {
		buf[out++] = '\n';   /* a CR at the very end */
		t->cr = 0;
	}
	return out;
}

/* The CR LF size of the message part, for SIZE=. */
static uint64_t crlf_size(const struct queue_file *f)
{
	char buf[65536];
	uint64_t off = f->body_at, end = f->body_at + f->size, n = f->size;
	int cr = 0;

	while (off < end) {
		ssize_t r = pread(f->fd, buf, end - off < sizeof buf ? (size_t)(end - off) : sizeof buf,
		                  (off_t)off);

		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] == '\n' && !cr)
				n++;
			else if (buf[i] != '\n' && cr)
				n++;
			cr = buf[i] == '\r';
		}
		off += (uint64_t)r;
	}
	return n + (uint64_t)cr;
}

/* "user:password" from the first line of a file only its owner reads. */
static int read_credentials(const char *path, char *user, size_t usz, char *pass, size_t psz,
                            char *why, size_t whysz)
{
	struct stat st;
	char *data = NULL, *colon, line[1024];
	size_t len, m = 0;
	struct err e;

	if (stat(path, &st) < 0) {
		snprintf(why, whysz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(why, whysz, "%s is readable by others: chmod 600 it", path);
		return -1;
	}
	if (file_read_all(path, 4096, &data, &len, 0, &e) < 0) {
		snprintf(why, whysz, "%s", e.msg);
		return -1;
	}
	for (; m < len && data[m] != '\n' && m < sizeof line - 1; m++)
		line[m] = data[m];
	line[m] = '\0';
	if (m > 0 && line[m - 1] == '\r')
		line[m - 1] = '\0';
	explicit_bzero(data, len);
	free(data);
	colon = strchr(line, ':');
	if (colon == NULL || (size_t)(colon - line) >= usz || strlen(colon + 1) >= psz) {
		explicit_bzero(line, sizeof line);
		snprintf(why, whysz, "%s: USER:PASSWORD expected on its first line", path);
		return -1;
	}
	*colon = '\0';
	snprintf(user, usz, "%s", line);
	snprintf(pass, psz, "%s", colon + 1);
	explicit_bzero(line, sizeof line);
	return 0;
}

/* The enhanced status code of a reply, or a default from its class. */
static void reply_status(const char *reply, char *out, size_t outsz)
{
	const char *p = reply + 3;

	while (*p == ' ' || *p == '-')
		p++;
	if ((p[0] == '2' || p[0] == '4' || p[0] == '5') && p[1] == '.') {
		size_t n = strspn(p, "0123456789.");

		if (n < outsz && n >= 5) {
			memcpy(out, p, n);
			out[n] = '\0';
			return;
		}
	}
	snprintf(out, outsz, "%c.0.0", reply[0]);
}

static void set_reply(struct outcome *o, const char *host, const char *reply, const char *cmd)
{
	char code[16];

	reply_status(reply, code, sizeof code);
	o->st = reply[0] == '2' ? QS_DELIVERED : reply[0] == '5' ? QS_FAILED : QS_DEFERRED;
	snprintf(o->text, sizeof o->text, "%s %.200s said: %.300s (in reply to %s)", code, host, reply, cmd);
}

/* One transaction with the server at url (for logs: name); sts demands
 * TLS with a valid certificate, as an MTA-STS policy in mode enforce
 * does. Returns 1 when the host answered for the recipients (each o[]
 * set), 0 when it did not get as far (try the next host; why says what
 * happened). */
static int transaction(struct send_config *c, const struct queue_file *f, const char *url,
                       const char *name, int implicit_tls, int sts, struct remote_rcpt *r,
                       size_t n, char *why, size_t whysz)
{
	struct txn t = { .fd = f->fd, .off = f->body_at, .stop = f->body_at + f->size, .nrcpt = n };
	struct curl_slist *rcpts = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", host[600], user[256], pass[512];
	char *ip = NULL;
	CURLcode rc;
	CURL *h = curl_easy_init();
	int answered = 0, verify = sts || strcmp(c->smtp_tls, "verify") == 0;

	t.rcpt_code = calloc(n, sizeof *t.rcpt_code);
	t.rcpt_text = calloc(n, sizeof *t.rcpt_text);
	if (h == NULL || t.rcpt_code == NULL || t.rcpt_text == NULL)
		cli_die(EX_OSERR, "out of memory");
	for (size_t i = 0; i < n; i++)
		rcpts = curl_slist_append(rcpts, r[i].address);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, f->env.sender);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &t);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)crlf_size(f));
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, &t);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, REPLY_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, REPLY_TIMEOUT);
	if (!implicit_tls)
		curl_easy_setopt(h, CURLOPT_USE_SSL,
		                 strcmp(c->smtp_tls, "may") == 0 && !sts ? (long)CURLUSESSL_TRY
		                                                         : (long)CURLUSESSL_ALL);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	if (c->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	if (c->relayhost != NULL && c->relay_auth_file != NULL && strncmp(url, c->relayhost,
	                                                                   strlen(c->relayhost)) == 0) {
		if (read_credentials(c->relay_auth_file, user, sizeof user, pass, sizeof pass, why,
		                     whysz) < 0)
			goto out;
		curl_easy_setopt(h, CURLOPT_USERNAME, user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, pass);
		/* credentials only over TLS */
		if (!implicit_tls)
			curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	}
	rc = curl_easy_perform(h);
	explicit_bzero(pass, sizeof pass);
	if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != NULL && ip[0])
		snprintf(host, sizeof host, "%s[%s]", name, ip);
	else
		snprintf(host, sizeof host, "%s", name);
	if (t.mail_code == 0) {
		/* no transaction: the greeting, EHLO, STARTTLS or AUTH failed */
		if (t.other_code != 0)
			snprintf(why, whysz, "%.200s said: %.400s (in reply to %s)", host, t.other, t.other_cmd);
		else if (t.greet_code >= 400)
			snprintf(why, whysz, "%.200s said: %.400s (greeting)", host, t.greet);
		else
			snprintf(why, whysz, "%.200s: %.300s", host, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	answered = 1;
	if (t.mail_code >= 400) {
		for (size_t i = 0; i < n; i++)
			set_reply(r[i].o, host, t.mail, "MAIL FROM");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (t.rcpt_code[i] == 0) {
			r[i].o->st = QS_DEFERRED;
			snprintf(r[i].o->text, sizeof r[i].o->text, "4.4.2 %.200s: %.300s before RCPT TO", host,
			         errbuf[0] ? errbuf : "lost connection");
		} else if (t.rcpt_code[i] >= 300) {
			set_reply(r[i].o, host, t.rcpt_text[i], "RCPT TO");
		} else if (t.end_code != 0) {
			set_reply(r[i].o, host, t.endtext, "end of DATA");
		} else if (t.data_code >= 400) {
			set_reply(r[i].o, host, t.other[0] ? t.other : "451 DATA refused", "DATA");
		} else {
			/* accepted, then the connection or the data failed */
			r[i].o->st = QS_DEFERRED;
			snprintf(r[i].o->text, sizeof r[i].o->text, "4.4.2 %.200s: %.300s during the data",
			         host, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		}
	}
out:
	curl_slist_free_all(rcpts);
	curl_easy_cleanup(h);
	free(t.rcpt_code);
	free(t.rcpt_text);
	return answered;
}

/* Has s a control character? libcurl puts addresses into commands as
 * they are (a quoted local part may hold a blank, never a CR). */
static int unsafe_address(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return 1;
	return 0;
}

/* Try host (at url) for domain under its MTA-STS policy: in mode enforce
 * only a host the policy names, with verified TLS; in mode testing any,
 * logging one it does not name. Returns 1 when the host answered for the
 * recipients; else last says why not. */
static int try_host(struct send_config *c, const struct queue_file *f, const char *domain,
                    const char *url, const char *host, const struct sts_policy *sts,
                    struct remote_rcpt *r, size_t n, char *last, size_t lastsz)
{
	char why[700] = "";

	if (sts->mode != STS_NONE && !mtasts_matches(sts, host)) {
		if (sts->mode == STS_ENFORCE) {
			snprintf(last, lastsz, "MTA-STS policy of %.200s: %.200s is not one of its MX hosts",
			         domain, host);
			return 0;
		}
		fprintf(stderr, "mail-send: id=%s mta-sts=testing domain=%s host=%s not in the policy\n",
		        f->id, domain, host);
	}
	if (transaction(c, f, url, host, 0, sts->mode == STS_ENFORCE, r, n, why, sizeof why))
		return 1;
	snprintf(last, lastsz, "%.690s", why);
	return 0;
}

void remote_deliver(struct send_config *c, const struct queue_file *f, const char *domain,
                    struct remote_rcpt *r, size_t n)
{
	struct mx mx[MX_MAX];
	const struct route *rt = route_for(c, domain);
	char url[1200], why[700] = "", last[700] = "no host to try";
	struct sts_policy sts = { .mode = STS_NONE };
	int nmx;

	/* a queue file is ours, but a broken one must not become commands */
	for (size_t i = 0; i < n; i++)
		if (unsafe_address(r[i].address) || unsafe_address(f->env.sender)) {
			for (size_t k = 0; k < n; k++) {
				r[k].o->st = QS_FAILED;
				snprintf(r[k].o->text, sizeof r[k].o->text,
				         "5.1.3 an address with a control character");
			}
			return;
		}
	/* a smarthost is ours to trust: MTA-STS is for the domain's MX hosts */
	if (rt != NULL || c->relayhost == NULL)
		(void)mtasts_policy(c, domain, &sts);

	if (rt != NULL) {
		const char *h = rt->host;
		size_t hl = strlen(h);

		/* "[192.0.2.1]" is an address: brackets only for IPv6 in a URL */
		if (h[0] == '[' && memchr(h, ':', hl) == NULL)
			snprintf(url, sizeof url, "smtp://%.*s:%s/%s", (int)(hl - 2), h + 1,
			         rt->port[0] ? rt->port : "25", c->hostname);
		else
			snprintf(url, sizeof url, "smtp://%s:%s/%s", h, rt->port[0] ? rt->port : "25",
			         c->hostname);
		if (try_host(c, f, domain, url, h, &sts, r, n, last, sizeof last))
			return;
	} else if (c->relayhost != NULL) {
		int implicit = strncmp(c->relayhost, "smtps://", 8) == 0;
		const char *h = c->relayhost + (implicit ? 8 : 7);

		snprintf(url, sizeof url, "%s/%s", c->relayhost, c->hostname);
		if (transaction(c, f, url, h, implicit, 0, r, n, why, sizeof why))
			return;
		snprintf(last, sizeof last, "%.690s", why);
	} else {
		struct outcome o;

		nmx = mx_lookup(domain, mx, &o);
		if (nmx < 0) {
			for (size_t i = 0; i < n; i++)
				*r[i].o = o;
			return;
		}
		if (nmx == 0) {
			for (size_t i = 0; i < n; i++) {
				r[i].o->st = QS_FAILED;
				snprintf(r[i].o->text, sizeof r[i].o->text,
				         "5.1.10 domain %s accepts no mail (null MX)", domain);
			}
			return;
		}
		for (int k = 0; k < nmx; k++) {
			if (strcasecmp(mx[k].host, c->hostname) == 0) {
				/* we are an MX of a domain we do not serve: a loop */
				snprintf(last, sizeof last, "mail for %s loops back to myself", domain);
				break;
			}
			snprintf(url, sizeof url, "smtp://%.255s:25/%.255s", mx[k].host, c->hostname);
			if (try_host(c, f, domain, url, mx[k].host, &sts, r, n, last, sizeof last))
				return;
		}
	}
	for (size_t i = 0; i < n; i++) {
		r[i].o->st = QS_DEFERRED;
		snprintf(r[i].o->text, sizeof r[i].o->text, "4.4.1 %.580s", last);
	}
}
