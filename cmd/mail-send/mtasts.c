/* mtasts.c: SMTP MTA Strict Transport Security (RFC 8461). A domain that
 * publishes "_mta-sts.DOMAIN TXT v=STSv1; id=..." serves a policy at
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt; in mode enforce, mail
 * for it goes only to the MX hosts the policy names, over TLS with a
 * certificate valid for the host. Policies are cached in QUEUE/mta-sts/
 * until their max_age, and refetched when the TXT id changes.
 *
 * Routes stand in for DNS (tests have none): a domain with a route uses
 * MTA-STS only when a route for mta-sts.DOMAIN says where the policy
 * host is, and then no TXT record is looked up. */
#include "config.h"

#include <arpa/nameser.h>
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "send.h"

#define POLICY_MAX 65536          /* RFC 8461 3.3: 64 KB */
#define MAX_AGE_MAX 31557600L     /* one year */
#define FETCH_TIMEOUT 30L

struct body {
	char *data;
	size_t len;
};

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t k = size * n;

	if (b->len + k > POLICY_MAX)
		return 0;   /* too large: libcurl aborts the transfer */
	memcpy(b->data + b->len, p, k);
	b->len += k;
	return k;
}

/* Parse policy text into p. Returns 0, or -1 when it is not a valid
 * STSv1 policy. */
static int parse_policy(const char *text, size_t len, struct sts_policy *p)
{
	char line[512];
	size_t i = 0;
	int version = 0, mode = 0, age = 0;

	memset(p, 0, sizeof *p);
	while (i < len) {
		size_t n = 0;
		char *colon, *v, *end;

		while (i < len && text[i] != '\n' && n < sizeof line - 1)
			line[n++] = text[i++];
		while (i < len && text[i] != '\n')
			i++;   /* the rest of an over-long line */
		i++;
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		line[n] = '\0';
		if ((colon = strchr(line, ':')) == NULL)
			continue;
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		if (strcmp(line, "version") == 0) {
			version = strcmp(v, "STSv1") == 0;
		} else if (strcmp(line, "mode") == 0) {
			mode = 1;
			if (strcmp(v, "enforce") == 0)
				p->mode = STS_ENFORCE;
			else if (strcmp(v, "testing") == 0)
				p->mode = STS_TESTING;
			else if (strcmp(v, "none") == 0)
				p->mode = STS_NONE;
			else
				return -1;
		} else if (strcmp(line, "max_age") == 0) {
			errno = 0;
			p->max_age = strtol(v, &end, 10);
			age = *v >= '0' && *v <= '9' && *end == '\0' && errno == 0;
			if (p->max_age > MAX_AGE_MAX)
				p->max_age = MAX_AGE_MAX;
		} else if (strcmp(line, "mx") == 0 && p->nmx < STS_MX_MAX && v[0] != '\0' &&
		           strlen(v) < sizeof p->mx[0]) {
			snprintf(p->mx[p->nmx++], sizeof p->mx[0], "%s", v);
		}
	}
	if (!version || !mode || !age || (p->mode != STS_NONE && p->nmx == 0))
		return -1;
	return 0;
}

int mtasts_matches(const struct sts_policy *p, const char *host)
{
	char h[NS_MAXDNAME];
	size_t n = strlen(host);

	if (n >= sizeof h)
		return 0;
	memcpy(h, host, n + 1);
	if (n > 0 && h[n - 1] == '.')
		h[--n] = '\0';
	for (int i = 0; i < p->nmx; i++) {
		const char *pat = p->mx[i];

		if (pat[0] == '*' && pat[1] == '.') {
			/* "*.example.net": exactly one more label on the left */
			const char *dot = strchr(h, '.');

			if (dot != NULL && dot != h && strcasecmp(dot + 1, pat + 2) == 0)
				return 1;
		} else if (strcasecmp(h, pat) == 0) {
			return 1;
		}
	}
	return 0;
}

/* The id of the _mta-sts TXT record into id. Returns 1 found, 0 none
 * (or not STSv1), -1 when DNS failed. */
static int txt_id(const char *domain, char *id, size_t idsz)
{
	unsigned char answer[NS_PACKETSZ * 4];
	char name[NS_MAXDNAME], txt[1024];
	ns_msg msg;
	int len, found = 0;

	snprintf(name, sizeof name, "_mta-sts.%s", domain);
	len = res_query(name, ns_c_in, ns_t_txt, answer, sizeof answer);
	if (len < 0)
		return h_errno == HOST_NOT_FOUND || h_errno == NO_DATA ? 0 : -1;
	if (ns_initparse(answer, len, &msg) < 0)
		return -1;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		const unsigned char *rd;
		size_t rdlen, k = 0, t = 0;
		ns_rr rr;
		char *p;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_txt)
			continue;
		/* the character-strings of the record, joined */
		rd = ns_rr_rdata(rr);
		rdlen = ns_rr_rdlen(rr);
		while (k < rdlen) {
			size_t sl = rd[k++];

			if (k + sl > rdlen || t + sl >= sizeof txt)
				break;
			memcpy(txt + t, rd + k, sl);
			t += sl;
			k += sl;
		}
		txt[t] = '\0';
		if (strncmp(txt, "v=STSv1;", 8) != 0)
			continue;
		if (found)
			return 0;   /* two records: as none (RFC 8461 3.1) */
		if ((p = strstr(txt, "id=")) == NULL)
			continue;
		p += 3;
		snprintf(id, idsz, "%.*s", (int)strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"), p);
		found = id[0] != '\0';
	}
	return found;
}

/* The cached policy of domain: 1 with p, id and fetched filled when there
 * is one, else 0. */
static int cache_read(const struct send_config *c, const char *domain, struct sts_policy *p,
                      char *id, size_t idsz, long long *fetched)
{
	char path[4200], *data = NULL, *body;
	size_t len;
	struct err e;
	int ok = 0;

	snprintf(path, sizeof path, "%s/mta-sts/%s", c->queue_dir, domain);
	if (file_read_all(path, POLICY_MAX + 1024, &data, &len, 1, &e) < 0 || data == NULL)
		return 0;
	/* "fetched SECONDS\nid ID\n\n" then the policy as served */
	if ((body = memmem(data, len, "\n\n", 2)) != NULL) {
		char head[512];
		size_t hl = (size_t)(body - data);

		if (hl < sizeof head) {
			memcpy(head, data, hl);
			head[hl] = '\0';
			if (sscanf(head, "fetched %lld id %*s", fetched) == 1) {
				char *idp = strstr(head, "\nid ");

				snprintf(id, idsz, "%s", idp ? idp + 4 : "");
				ok = parse_policy(body + 2, len - hl - 2, p) == 0;
			}
		}
	}
	free(data);
	return ok;
}

static void cache_write(const struct send_config *c, const char *domain, const char *id,
                        const struct body *b)
{
	char path[4200], *text;
	int n;
	struct err e;

	snprintf(path, sizeof path, "%s/mta-sts", c->queue_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return;
	snprintf(path, sizeof path, "%s/mta-sts/%s", c->queue_dir, domain);
	text = malloc(b->len + 128);
	if (text == NULL)
		return;
	n = snprintf(text, 128, "fetched %lld\nid %s\n\n", (long long)time(NULL), id);
	memcpy(text + n, b->data, b->len);
	if (file_replace(path, text, (size_t)n + b->len, 0600, NULL, &e) < 0)
		fprintf(stderr, "mail-send: mta-sts domain=%s cache error=\"%s\"\n", domain, e.msg);
	free(text);
}

/* Fetch the policy of domain, through connect_to when not NULL. */
static int fetch(const struct send_config *c, const char *domain, const char *connect_to,
                 struct body *b, char *why, size_t whysz)
{
	char url[600], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *ct = NULL;
	long status = 0;
	CURL *h = curl_easy_init();
	CURLcode rc;

	if (h == NULL || (b->data = malloc(POLICY_MAX)) == NULL)
		cli_die(EX_OSERR, "out of memory");
	b->len = 0;
	snprintf(url, sizeof url, "https://mta-sts.%s/.well-known/mta-sts.txt", domain);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);   /* RFC 8461 3.3 */
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, FETCH_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	if (connect_to != NULL) {
		ct = curl_slist_append(NULL, connect_to);
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, ct);
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(ct);
	if (rc != CURLE_OK || status != 200) {
		snprintf(why, whysz, "%.200s: %.300s", url,
		         rc != CURLE_OK ? (errbuf[0] ? errbuf : curl_easy_strerror(rc)) : "not 200 OK");
		free(b->data);
		b->data = NULL;
		return -1;
	}
	return 0;
}

int mtasts_policy(struct send_config *c, const char *domain, struct sts_policy *p)
{
	char id[128] = "", cached_id[128] = "", connect_to[800], why[600];
	const char *ct = NULL;
	struct sts_policy cached;
	long long fetched = 0, now = (long long)time(NULL);
	int have_cache, txt;
	struct body b = { 0 };

	if (!c->mta_sts)
		return 0;
	if (route_for(c, domain) != NULL) {
		char name[300];
		const struct route *r;

		snprintf(name, sizeof name, "mta-sts.%s", domain);
		r = route_for(c, name);
		if (r == NULL || strcmp(r->domain, "*") == 0)
			return 0;
		snprintf(connect_to, sizeof connect_to, "%s:443:%s:%s", name, r->host,
		         r->port[0] ? r->port : "443");
		ct = connect_to;
		txt = 1;   /* the route stands for the TXT record, without an id */
	} else {
		txt = txt_id(domain, id, sizeof id);
	}
	have_cache = cache_read(c, domain, &cached, cached_id, sizeof cached_id, &fetched) &&
	             fetched + cached.max_age > now;
	if (have_cache && (txt != 1 || strcmp(id, cached_id) == 0)) {
		*p = cached;
		return 1;
	}
	if (txt != 1)
		return 0;   /* no record and nothing cached: no policy */
	if (fetch(c, domain, ct, &b, why, sizeof why) < 0 || parse_policy(b.data, b.len, p) < 0) {
		if (b.data != NULL)
			snprintf(why, sizeof why, "the policy of %s is not a valid STSv1 policy", domain);
		fprintf(stderr, "mail-send: mta-sts domain=%s error=\"%s\"%s\n", domain, why,
		        have_cache ? " using=cache" : "");
		free(b.data);
		if (have_cache) {
			*p = cached;
			return 1;
		}
		return 0;
	}
	cache_write(c, domain, id, &b);
	free(b.data);
	return 1;
}
