/* lib/dnsbl.c: the zone list, which addresses are asked about, query
 * names, name server addresses and the Received: field mail-recv writes;
 * then lookups against a real name server, Debian's dnsmasq started here
 * on loopback with records for the test addresses, and against a fake
 * server in a child for what dnsmasq will not do on demand (silence,
 * garbage, compression loops, wrong answers, a lost first datagram).
 * The dnsmasq cases are skipped (TAP "# SKIP") when it is not installed. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "dnsbl.h"
#include "prog.h"
#include "tap.h"

static pid_t dnsmasq_pid = -1, fake_pid = -1;
static char logpath[] = "/tmp/test-dnsbl.XXXXXX";

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
		*pid = -1;
	}
}

static void cleanup(void)
{
	stop(&dnsmasq_pid);
	stop(&fake_pid);
	unlink(logpath);
}

/* A UDP socket bound to 127.0.0.1 on a port of the kernel's choice. */
static int udp_socket(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof sin;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) < 0) {
		perror("udp socket");
		exit(1);
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A UDP port on 127.0.0.1 that nothing listens on (just now). */
static int free_port(void)
{
	int port, fd = udp_socket(&port);

	close(fd);
	return port;
}

static void server_at(int port, struct dnsbl_server *s)
{
	char text[32];
	struct err e;

	snprintf(text, sizeof text, "127.0.0.1:%d", port);
	if (dnsbl_server(text, s, &e) < 0) {
		printf("# %s\n", e.msg);
		exit(1);
	}
}

/* ---- the pure parts ---- */

static void test_parse(void)
{
	struct dnsbl_list l;
	struct err e;
	char many[2048] = "";
	static const char *bad[] = {
		"bl.test=abc", "bl.test=1e3", "bl.test=inf", "bl.test=nan", "bl.test=101",
		"bl.test=-100.5", "bl.test=", "bl.test=1.2.3", "bl.test=0x10", "a..b", ".a.b",
		"-a.b", "a-.b", "a/b", "a.b=2=3", "=2", "a b=x", "zen.spamhaus.org,ZEN.spamhaus.org.",
		"bl.test=+", "bl.test=-",
	};

	ok(dnsbl_parse("zen.spamhaus.org", &l, &e) == 0 && l.n == 1 &&
	   strcmp(l.zone[0].name, "zen.spamhaus.org") == 0 && l.zone[0].score == DNSBL_DEFAULT_SCORE,
		"parse: one zone, default score 3.0");
	ok(dnsbl_parse(" A.Test=2 ,b.test=-1.5\tc.test.=.5,,d_1.test=+4.25 e.test=0\n", &l, &e) == 0 &&
	   l.n == 5 && strcmp(l.zone[0].name, "a.test") == 0 && l.zone[0].score == 2.0 &&
	   strcmp(l.zone[1].name, "b.test") == 0 && l.zone[1].score == -1.5 &&
	   strcmp(l.zone[2].name, "c.test") == 0 && l.zone[2].score == 0.5 &&
	   strcmp(l.zone[3].name, "d_1.test") == 0 && l.zone[3].score == 4.25 &&
	   l.zone[4].score == 0.0,
		"parse: commas and blanks, scores, case folded, trailing dot dropped");
	ok(dnsbl_parse("", &l, &e) == 0 && l.n == 0, "parse: empty text, no zones");
	ok(dnsbl_parse(" , ,", &l, &e) == 0 && l.n == 0, "parse: separators only, no zones");
	ok(dnsbl_parse(NULL, &l, &e) == 0 && l.n == 0, "parse: NULL, no zones");
	ok(dnsbl_parse("bl.test=100,b.test=-100", &l, &e) == 0 && l.n == 2 && l.zone[1].score == -100,
		"parse: +-100 is the limit");
	ok(dnsbl_parse("localbl", &l, &e) == 0 && l.n == 1, "parse: a single-label zone");
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		e.code = 0;
		ok(dnsbl_parse(bad[i], &l, &e) < 0 && e.code == EX_CONFIG && e.msg[0],
			"parse refuses \"%s\" (%s)", bad[i], e.msg);
	}
	for (int i = 0; i < DNSBL_MAX_ZONES; i++) {
		size_t k = strlen(many);

		snprintf(many + k, sizeof many - k, "z%d.test,", i);
	}
	ok(dnsbl_parse(many, &l, &e) == 0 && l.n == DNSBL_MAX_ZONES, "parse: %d zones", DNSBL_MAX_ZONES);
	{
		size_t k = strlen(many);

		snprintf(many + k, sizeof many - k, "last.test");
	}
	ok(dnsbl_parse(many, &l, &e) < 0 && e.code == EX_CONFIG && strstr(e.msg, "more than"),
		"parse refuses %d zones (%s)", DNSBL_MAX_ZONES + 1, e.msg);
	{
		char label[80], name[400];

		memset(label, 'a', 64);
		label[64] = '\0';
		snprintf(name, sizeof name, "%s.test", label);
		ok(dnsbl_parse(name, &l, &e) < 0 && e.code == EX_CONFIG, "parse refuses a 64-byte label");
		label[63] = '\0';
		snprintf(name, sizeof name, "%s.%s.%s.x", label, label, label);   /* 194 */
		ok(dnsbl_parse(name, &l, &e) < 0 && strstr(e.msg, "longer than"),
			"parse refuses a zone with no room for an IPv6 name (%s)", e.msg);
		name[DNSBL_ZONE_MAX - 2] = '.';                               /* 187, then ".x" */
		name[DNSBL_ZONE_MAX - 1] = 'x';
		name[DNSBL_ZONE_MAX] = '\0';
		ok(dnsbl_parse(name, &l, &e) == 0 && strlen(l.zone[0].name) == DNSBL_ZONE_MAX,
			"parse takes a %d-character zone", DNSBL_ZONE_MAX);
		{
			char huge[1200];

			memset(huge, 'y', sizeof huge - 1);
			huge[sizeof huge - 1] = '\0';
			ok(dnsbl_parse(huge, &l, &e) < 0 && e.code == EX_CONFIG && strlen(e.msg) < 300,
				"parse refuses a 1199-byte token with a short message");
		}
	}
}

static void test_reverse(void)
{
	static const struct { const char *ip, *rev; } good[] = {
		{ "192.0.2.1", "1.2.0.192" },
		{ "198.51.100.77", "77.100.51.198" },
		{ "203.0.113.255", "255.113.0.203" },
		{ "172.32.0.1", "1.0.32.172" },
		{ "100.128.0.1", "1.0.128.100" },
		{ "172.15.255.255", "255.255.15.172" },
		{ "223.255.255.255", "255.255.255.223" },
		{ "::ffff:192.0.2.1", "1.2.0.192" },
		{ "::FFFF:c000:0201", "1.2.0.192" },
		{ "2001:db8::1",
		  "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2" },
		{ "IPv6:2001:DB8:1234:5678:9abc:def0:1:2",
		  "2.0.0.0.1.0.0.0.0.f.e.d.c.b.a.9.8.7.6.5.4.3.2.1.8.b.d.0.1.0.0.2" },
		{ "2a00:1450:4001:82b::200e",
		  "e.0.0.2.0.0.0.0.0.0.0.0.0.0.0.0.b.2.8.0.1.0.0.4.0.5.4.1.0.0.a.2" },
	};
	static const char *skip[] = {
		"127.0.0.1", "127.1.2.3", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"100.64.0.1", "100.127.255.255", "169.254.1.1", "0.0.0.0", "0.1.2.3", "224.0.0.1",
		"239.1.1.1", "240.0.0.1", "255.255.255.255", "::1", "::", "::ffff:10.0.0.1",
		"::ffff:127.0.0.1", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "febf::1",
		"fec0::1", "ff02::1", "::192.0.2.1", "IPv6:::1",
	};
	static const char *bad[] = {
		"", "unknown", "1.2.3", "1.2.3.4.5", "300.1.1.1", "1.2.3.4 ", " 1.2.3.4",
		"gggg::1", "1:2:3:4:5:6:7:8:9", "01.2.3.4x", "%eth0", "IPv6:", "[192.0.2.1]",
		"192.0.2.1:25",
	};
	char rev[DNSBL_REV_SIZE], small[8];
	struct err e;

	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		int r = dnsbl_reverse(good[i].ip, rev, sizeof rev, &e);

		ok(r == 1 && strcmp(rev, good[i].rev) == 0, "reverse %s: %s", good[i].ip, rev);
	}
	for (size_t i = 0; i < sizeof skip / sizeof *skip; i++) {
		rev[0] = 'x';
		ok(dnsbl_reverse(skip[i], rev, sizeof rev, &e) == 0 && rev[0] == '\0',
			"reverse skips %s", skip[i]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		e.code = 0;
		ok(dnsbl_reverse(bad[i], rev, sizeof rev, &e) < 0 && e.code == EX_DATAERR,
			"reverse refuses \"%s\" (%s)", bad[i], e.msg);
	}
	ok(dnsbl_reverse("203.0.113.255", small, sizeof small, &e) < 0 && small[0] == '\0',
		"reverse: too small a buffer is an error");
	ok(dnsbl_reverse("2001:db8::1", small, sizeof small, &e) < 0,
		"reverse: too small a buffer for IPv6 is an error");
}

static void test_query_name(void)
{
	char out[300], zone[DNSBL_ZONE_MAX + 2];
	char rev[DNSBL_REV_SIZE];
	struct err e;

	ok(dnsbl_query_name("1.2.0.192", "zen.spamhaus.org", out, sizeof out) == 0 &&
	   strcmp(out, "1.2.0.192.zen.spamhaus.org") == 0, "query name: %s", out);
	ok(dnsbl_query_name("1.2.0.192", "zen.spamhaus.org", out, 10) < 0 && out[0] == '\0',
		"query name: too small a buffer");
	memset(zone, 'a', sizeof zone - 1);
	zone[sizeof zone - 1] = '\0';
	for (size_t i = 63; i < sizeof zone - 1; i += 64)
		zone[i] = '.';
	dnsbl_reverse("2001:db8::1", rev, sizeof rev, &e);
	ok(dnsbl_query_name(rev, zone, out, sizeof out) < 0, "query name: over 253 characters refused");
	zone[DNSBL_ZONE_MAX] = '\0';
	ok(dnsbl_query_name(rev, zone, out, sizeof out) == 0 && strlen(out) == 253,
		"query name: IPv6 under the longest zone is 253 characters");
}

static void test_server(void)
{
	static const char *bad[] = {
		"localhost", "1.2.3.4:0", "1.2.3.4:70000", "1.2.3.4:", "[::1", "[::1]5353",
		"1.2.3.4:53x", "[1.2.3.4", "[]:53", ":53", "1.2.3", "[::1]:", "1.2.3.4:-1",
		"ns.example:53", "1.2.3.4:000053",
	};
	struct dnsbl_server s;
	struct err e;

	ok(dnsbl_server("127.0.0.1", &s, &e) == 0 && s.addr.ss_family == AF_INET &&
	   ntohs(((struct sockaddr_in *)&s.addr)->sin_port) == 53 && strcmp(s.text, "127.0.0.1:53") == 0,
		"server: an IPv4 address, port 53 (%s)", s.text);
	ok(dnsbl_server("192.0.2.53:5353", &s, &e) == 0 &&
	   ntohs(((struct sockaddr_in *)&s.addr)->sin_port) == 5353 && s.len == sizeof(struct sockaddr_in),
		"server: IPv4:PORT");
	ok(dnsbl_server("[::1]:5353", &s, &e) == 0 && s.addr.ss_family == AF_INET6 &&
	   ntohs(((struct sockaddr_in6 *)&s.addr)->sin6_port) == 5353 && strcmp(s.text, "[::1]:5353") == 0,
		"server: [IPv6]:PORT");
	ok(dnsbl_server("2001:db8::53", &s, &e) == 0 && s.addr.ss_family == AF_INET6 &&
	   ntohs(((struct sockaddr_in6 *)&s.addr)->sin6_port) == 53, "server: a bare IPv6 address");
	ok(dnsbl_server("[2001:db8::53]", &s, &e) == 0 &&
	   ntohs(((struct sockaddr_in6 *)&s.addr)->sin6_port) == 53, "server: [IPv6] without a port");
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		e.code = 0;
		ok(dnsbl_server(bad[i], &s, &e) < 0 && e.code == EX_CONFIG,
			"server refuses \"%s\" (%s)", bad[i], e.msg);
	}
	e.code = 0;
	if (dnsbl_server(NULL, &s, &e) == 0)
		ok(s.addr.ss_family == AF_INET || s.addr.ss_family == AF_INET6,
			"server: resolv.conf's first name server (%s)", s.text);
	else
		ok(e.code == EX_TEMPFAIL, "server: resolv.conf unusable is a temporary failure (%s)", e.msg);
}

static void test_received(void)
{
	static const struct { const char *field, *ip; } cases[] = {
		{ "from mx.example.org (mx.example.org [192.0.2.1])\n\tby mail.example.net (mail-toolkit) "
		  "with ESMTPS id 123;\n\tMon, 1 Jan 2024 00:00:00 +0000", "192.0.2.1" },
		{ " from helo (unknown [2001:db8::25])\r\n\t(using TLS1.3)\r\n\tby h (mail-toolkit) with ESMTP id 1;"
		  "\r\n\tdate", "2001:db8::25" },
		{ "from [198.51.100.9] (unknown [203.0.113.5])\n\tby h (mail-toolkit) with SMTP id 1;",
		  "203.0.113.5" },
		{ "from [1.2.3.4](x [203.0.113.6]) by h (mail-toolkit) with SMTP", "203.0.113.6" },
		{ "FROM a (b [::ffff:192.0.2.7])\n\tby h (mail-toolkit) with SMTP id 1;", "::ffff:192.0.2.7" },
		{ "from a (b [10.0.0.1]) by h (mail-toolkit) with SMTP", "10.0.0.1" },
	};
	static const char *bad[] = {
		"from mx.example.org (mx.example.org [192.0.2.1])\n\tby mail.example.net (Postfix) with ESMTP",
		"from a (b [unknown])\n\tby h (mail-toolkit) with SMTP id 1;",
		"from a (b [192.0.2.1)\n\tby h (mail-toolkit) with SMTP id 1;",
		"from a (b [192.0.2.1] extra)\n\tby h (mail-toolkit) with SMTP id 1;",
		"by h (mail-toolkit) with SMTP id 1; from a (b [192.0.2.1])",
		"from a (mail-toolkit) [192.0.2.1]",
		"from a b (c [192.0.2.1]) by h (mail-toolkit)",
		"from (mail-toolkit) by",
		"froma (b [192.0.2.1]) by h (mail-toolkit)",
		"from a (b [192.0.2.1]) by h (mail-toolkit",
		"from a (b [1.2.3.4.5]) by h (mail-toolkit)",
		"from a (b [])) by h (mail-toolkit)",
		"from a (b [192.0.2.1 ]) by h (mail-toolkit)",
		"",
		"from",
		"(mail-toolkit)",
	};
	char ip[64], tiny[4];
	const char *f = cases[0].field;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int r = dnsbl_received_ip(cases[i].field, strlen(cases[i].field), ip, sizeof ip);

		ok(r == 0 && strcmp(ip, cases[i].ip) == 0, "received: %s", ip);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ip[0] = 'x';
		ok(dnsbl_received_ip(bad[i], strlen(bad[i]), ip, sizeof ip) < 0 && ip[0] == '\0',
			"received: no IP from bad field %zu", i);
	}
	/* a length cut short: nothing past it is read */
	ok(dnsbl_received_ip(f, (size_t)(strstr(f, "]") - f), ip, sizeof ip) < 0,
		"received: the length is a limit (cut before ']')");
	ok(dnsbl_received_ip(f, (size_t)(strstr(f, "(mail-") - f) + 5, ip, sizeof ip) < 0,
		"received: the length is a limit (cut in the marker)");
	ok(dnsbl_received_ip(f, strlen(f), tiny, sizeof tiny) < 0 && tiny[0] == '\0',
		"received: too small a buffer");
}

static void test_points(void)
{
	struct dnsbl_list l;
	struct dnsbl_result r[3] = { { .status = DNSBL_LISTED }, { .status = DNSBL_FAILED },
		{ .status = DNSBL_LISTED } };
	struct err e;

	dnsbl_parse("a.test=2.5 b.test c.test=-1", &l, &e);
	ok(dnsbl_points(&l, r) == 1.5, "points: listed zones only, negative scores count");
	r[0].status = r[2].status = DNSBL_NOT_LISTED;
	ok(dnsbl_points(&l, r) == 0, "points: none listed, 0");
}

/* ---- a fake name server ---- */

/* Answer each query by its zone, the label after "1.2.0.192."; "late"
 * answers only the second time it is asked, "silent" never. */
static size_t fake_reply(const unsigned char *q, size_t n, unsigned char *out, int *late_seen)
{
	char name[300];
	size_t p = 12, o = 0, qend;
	const char *zone;

	if (n < 17 || n > 512)
		return 0;
	while (p < n && q[p] != 0 && o + q[p] + 1 < sizeof name) {
		memcpy(name + o, q + p + 1, q[p]);
		o += q[p];
		name[o++] = '.';
		p += q[p] + 1;
	}
	if (p + 5 > n)
		return 0;
	name[o ? o - 1 : 0] = '\0';
	qend = p + 5;
	zone = strncmp(name, "1.2.0.192.", 10) == 0 ? name + 10 : name;
	memcpy(out, q, qend);
	out[2] = 0x81;   /* QR, RD */
	out[3] = 0x80;   /* RA, NOERROR */
	if (strcmp(zone, "silent.test") == 0)
		return 0;
	if (strcmp(zone, "late.test") == 0 && (*late_seen)++ == 0)
		return 0;
	if (strcmp(zone, "wrongid.test") == 0) {
		out[1] ^= 0x55;
		return qend;
	}
	if (strcmp(zone, "junk.test") == 0) {
		for (size_t i = 4; i < 64; i++)
			out[i] = (unsigned char)(i * 37 + 11);
		return 64;
	}
	if (strcmp(zone, "short.test") == 0)
		return 11;   /* less than a header */
	if (strcmp(zone, "servfail.test") == 0) {
		out[3] = 0x82;
		return qend;
	}
	if (strcmp(zone, "tc.test") == 0) {
		out[2] |= 0x02;
		return qend;
	}
	if (strcmp(zone, "other.test") == 0) {
		out[13] ^= 1;   /* a letter of the question changed */
		return qend;
	}
	if (strcmp(zone, "noquestion.test") == 0) {
		out[5] = 0;
		return 12;
	}
	if (strcmp(zone, "missing.test") == 0) {
		out[7] = 1;   /* one answer promised, none there */
		return qend;
	}
	if (strcmp(zone, "trailing.test") == 0) {
		memset(out + qend, 0, 7);
		return qend + 7;
	}
	out[7] = 1;   /* ANCOUNT 1 */
	o = qend;
	if (strcmp(zone, "loop.test") == 0) {
		out[o++] = 0xc0;   /* a name pointing at itself */
		out[o] = (unsigned char)o - 1;
		o++;
	} else if (strcmp(zone, "far.test") == 0) {
		out[o++] = 0xc1;   /* a pointer past the end */
		out[o++] = 0xff;
	} else {
		out[o++] = 0xc0;   /* the question's name */
		out[o++] = 12;
	}
	memcpy(out + o, "\0\1\0\1\0\0\0\x3c\0\4\x7f\0\0\2", 14);   /* A IN ttl 60: 127.0.0.2 */
	if (strcmp(zone, "rdlen.test") == 0) {
		out[o + 9] = 5;
		out[o + 14] = 9;
		return o + 15;
	}
	if (strcmp(zone, "cut.test") == 0)
		return o + 12;   /* rdata cut short */
	if (strcmp(zone, "txt.test") == 0)
		out[o + 1] = 16;  /* a TXT where an A was asked: not listed */
	return o + 14;
}

static pid_t fake_server(int *port)
{
	int fd = udp_socket(port);
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) != 0) {
		close(fd);
		return pid;
	}
#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	alarm(60);
	for (int late_seen = 0;;) {
		unsigned char q[1024], out[1024];
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		ssize_t k = recvfrom(fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
		size_t n;

		if (k < 0)
			continue;
		if ((n = fake_reply(q, (size_t)k, out, &late_seen)) > 0)
			(void)!sendto(fd, out, n, 0, (struct sockaddr *)&from, fl);
	}
}

static const struct dnsbl_result *find(const struct dnsbl_list *l, const struct dnsbl_result *r,
	const char *zone)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->zone[i].name, zone) == 0)
			return &r[i];
	abort();
}

static void test_fake(void)
{
	static const struct { const char *zone; enum dnsbl_status st; const char *why; } want[] = {
		{ "good.test", DNSBL_LISTED, "" },
		{ "late.test", DNSBL_LISTED, "" },
		{ "txt.test", DNSBL_NOT_LISTED, "" },
		{ "silent.test", DNSBL_FAILED, "no answer" },
		{ "wrongid.test", DNSBL_FAILED, "no answer" },
		{ "short.test", DNSBL_FAILED, "no answer" },
		{ "junk.test", DNSBL_FAILED, "malformed" },
		{ "servfail.test", DNSBL_FAILED, "SERVFAIL" },
		{ "tc.test", DNSBL_FAILED, "truncated" },
		{ "other.test", DNSBL_FAILED, "another question" },
		{ "noquestion.test", DNSBL_FAILED, "another question" },
		{ "missing.test", DNSBL_FAILED, "malformed" },
		{ "trailing.test", DNSBL_FAILED, "malformed" },
		{ "loop.test", DNSBL_FAILED, "malformed" },
		{ "far.test", DNSBL_FAILED, "malformed" },
		{ "rdlen.test", DNSBL_FAILED, "malformed" },
		{ "cut.test", DNSBL_FAILED, "malformed" },
	};
	char list[1024] = "";
	struct dnsbl_list l;
	struct dnsbl_result r[DNSBL_MAX_ZONES];
	struct dnsbl_server s;
	struct err e;
	long long t0, ms;
	int port, rc;

	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		size_t k = strlen(list);

		snprintf(list + k, sizeof list - k, "%s ", want[i].zone);
	}
	if (dnsbl_parse(list, &l, &e) < 0) {
		ok(0, "fake: zone list: %s", e.msg);
		return;
	}
	fake_pid = fake_server(&port);
	server_at(port, &s);
	t0 = now_ms();
	rc = dnsbl_lookup(&l, "192.0.2.1", &s, 900, r, &e);
	ms = now_ms() - t0;
	ok(rc == 0, "fake: lookup done (%s)", rc < 0 ? e.msg : "");
	ok(ms >= 850 && ms < 1500, "fake: one deadline for all zones (%lld ms for 900)", ms);
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		const struct dnsbl_result *x = find(&l, r, want[i].zone);

		ok(x->status == want[i].st && strstr(x->reason, want[i].why) != NULL,
			"fake %s: status %d, want %d (%s)", want[i].zone, x->status, want[i].st, x->reason);
	}
	ok(strcmp(find(&l, r, "good.test")->answer, "127.0.0.2") == 0, "fake: the listing answer");
	ok(dnsbl_points(&l, r) == 2 * DNSBL_DEFAULT_SCORE, "fake: points of the two listed zones");

	/* all answered: no waiting for the deadline */
	dnsbl_parse("good.test,servfail.test", &l, &e);
	t0 = now_ms();
	rc = dnsbl_lookup(&l, "192.0.2.1", &s, 3000, r, &e);
	ms = now_ms() - t0;
	ok(rc == 0 && r[0].status == DNSBL_LISTED && r[1].status == DNSBL_FAILED && ms < 500,
		"fake: returns as soon as all zones answered (%lld ms)", ms);
	stop(&fake_pid);

	/* nobody there: refused at once, every zone failed */
	server_at(free_port(), &s);
	t0 = now_ms();
	rc = dnsbl_lookup(&l, "192.0.2.1", &s, 3000, r, &e);
	ms = now_ms() - t0;
	ok(rc == 0 && r[0].status == DNSBL_FAILED && r[1].status == DNSBL_FAILED && ms < 1500,
		"fake: no server, zones failed (%s, %lld ms)", r[0].reason, ms);
	/* an address never listed: nothing asked */
	t0 = now_ms();
	rc = dnsbl_lookup(&l, "10.0.0.1", &s, 3000, r, &e);
	ok(rc == 1 && r[0].status == DNSBL_NOT_LISTED && r[1].status == DNSBL_NOT_LISTED &&
	   now_ms() - t0 < 100, "fake: a private address is not asked about");
	e.code = 0;
	ok(dnsbl_lookup(&l, "unknown", &s, 3000, r, &e) < 0 && e.code == EX_DATAERR,
		"fake: no address, EX_DATAERR (%s)", e.msg);
}

/* ---- a real name server ---- */

static int start_dnsmasq(const char *prog, int port)
{
	char portarg[32], v6[200], rev[DNSBL_REV_SIZE];
	struct err e;
	int fd;

	dnsbl_reverse("2001:db8::1", rev, sizeof rev, &e);
	snprintf(portarg, sizeof portarg, "--port=%d", port);
	snprintf(v6, sizeof v6, "--host-record=%s.bl.test,127.0.0.3", rev);
	if ((fd = mkstemp(logpath)) < 0) {
		perror("mkstemp");
		exit(1);
	}
	fflush(stdout);
	if ((dnsmasq_pid = fork()) == 0) {
#ifdef __linux__
		prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
		dup2(fd, 1);
		dup2(fd, 2);
		execl(prog, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
			"--conf-file=/dev/null", "--listen-address=127.0.0.1", "--bind-interfaces",
			portarg, "--pid-file=", "--log-facility=-",
			"--local=/bl.test/", "--local=/bl2.test/", "--local=/err.test/",
			"--local=/out.test/", "--local=/nodata.test/", "--local=/multi.test/",
			"--host-record=2.0.0.127.bl.test,127.0.0.2",
			"--host-record=1.2.0.192.bl.test,127.0.0.4",
			"--host-record=1.2.0.192.bl2.test,127.0.0.10",
			"--host-record=1.2.0.192.err.test,127.255.255.254",
			"--host-record=1.2.0.192.out.test,192.0.2.99",
			"--host-record=1.2.0.192.nodata.test,2001:db8::99",
			"--address=/1.2.0.192.multi.test/127.255.255.252",
			"--address=/1.2.0.192.multi.test/127.0.0.11",
			v6, (char *)NULL);
		_exit(127);
	}
	close(fd);
	/* ready when it answers NXDOMAIN */
	for (int i = 0; i < 50; i++) {
		struct dnsbl_list l;
		struct dnsbl_result r[1];
		struct dnsbl_server s;
		int status;

		if (waitpid(dnsmasq_pid, &status, WNOHANG) == dnsmasq_pid) {
			dnsmasq_pid = -1;
			return -1;
		}
		dnsbl_parse("bl.test", &l, &e);
		server_at(port, &s);
		if (dnsbl_lookup(&l, "203.0.113.250", &s, 100, r, &e) == 0 &&
		    r[0].status == DNSBL_NOT_LISTED)
			return 0;
		usleep(100000);
	}
	return -1;
}

static void show_log(void)
{
	char cmd[128];

	fflush(stdout);
	snprintf(cmd, sizeof cmd, "sed 's/^/# dnsmasq: /' %s", logpath);
	(void)!system(cmd);
}

static void test_dnsmasq(int port)
{
	struct dnsbl_list l;
	struct dnsbl_result r[DNSBL_MAX_ZONES];
	struct dnsbl_server s;
	struct err e;
	long long t0, ms;
	int rc;

	server_at(port, &s);
	dnsbl_parse("bl.test=2 bl2.test=1.5 err.test out.test nodata.test multi.test=4 none.test", &l, &e);
	t0 = now_ms();
	rc = dnsbl_lookup(&l, "192.0.2.1", &s, 0, r, &e);
	ms = now_ms() - t0;
	ok(rc == 0 && ms < 1000, "dnsmasq: lookup of 192.0.2.1 in %lld ms", ms);
	ok(r[0].status == DNSBL_LISTED && strcmp(r[0].answer, "127.0.0.4") == 0,
		"dnsmasq: listed in bl.test (%s)", r[0].answer);
	ok(r[1].status == DNSBL_LISTED && strcmp(r[1].answer, "127.0.0.10") == 0,
		"dnsmasq: listed in bl2.test (%s)", r[1].answer);
	ok(r[2].status == DNSBL_FAILED && strstr(r[2].reason, "127.255.255.254"),
		"dnsmasq: 127.255.255.254 is the list's error, not a listing (%s)", r[2].reason);
	ok(r[3].status == DNSBL_FAILED && strstr(r[3].reason, "outside"),
		"dnsmasq: an answer outside 127/8 is no listing (%s)", r[3].reason);
	ok(r[4].status == DNSBL_NOT_LISTED, "dnsmasq: NODATA is not listed (%s)", r[4].reason);
	ok(r[5].status == DNSBL_LISTED && strcmp(r[5].answer, "127.0.0.11") == 0,
		"dnsmasq: a listing beside an error code counts (%d %s %s)", r[5].status, r[5].answer, r[5].reason);
	ok(r[6].status == DNSBL_FAILED && strstr(r[6].reason, "REFUSED"),
		"dnsmasq: a zone it does not serve is refused (%s)", r[6].reason);
	ok(dnsbl_points(&l, r) == 7.5, "dnsmasq: points 2 + 1.5 + 4");

	rc = dnsbl_lookup(&l, "198.51.100.1", &s, 0, r, &e);
	ok(rc == 0 && r[0].status == DNSBL_NOT_LISTED && r[1].status == DNSBL_NOT_LISTED &&
	   r[2].status == DNSBL_NOT_LISTED && dnsbl_points(&l, r) == 0,
		"dnsmasq: 198.51.100.1 is listed nowhere (NXDOMAIN)");
	rc = dnsbl_lookup(&l, "::ffff:192.0.2.1", &s, 0, r, &e);
	ok(rc == 0 && r[0].status == DNSBL_LISTED, "dnsmasq: IPv4-mapped is asked as IPv4");

	dnsbl_parse("BL.test", &l, &e);
	rc = dnsbl_lookup(&l, "2001:db8::1", &s, 0, r, &e);
	ok(rc == 0 && r[0].status == DNSBL_LISTED && strcmp(r[0].answer, "127.0.0.3") == 0,
		"dnsmasq: an IPv6 address by its nibbles (%s)", r[0].reason);
	rc = dnsbl_lookup(&l, "2001:db8::2", &s, 0, r, &e);
	ok(rc == 0 && r[0].status == DNSBL_NOT_LISTED, "dnsmasq: another IPv6 address, not listed");

	/* the same server and the fake's silence, under one deadline */
	{
		int fport;
		struct dnsbl_server fs;

		fake_pid = fake_server(&fport);
		server_at(fport, &fs);
		dnsbl_parse("silent.test", &l, &e);
		t0 = now_ms();
		rc = dnsbl_lookup(&l, "192.0.2.1", &fs, 300, r, &e);
		ms = now_ms() - t0;
		ok(rc == 0 && r[0].status == DNSBL_FAILED && ms >= 290 && ms < 800,
			"fake: a silent server costs the deadline only (%lld ms, %s)", ms, r[0].reason);
		stop(&fake_pid);
	}
}

int main(void)
{
	char prog[512];
	int port;

	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	atexit(cleanup);
	test_parse();
	test_reverse();
	test_query_name();
	test_server();
	test_received();
	test_points();
	test_fake();
	if (!find_prog("dnsmasq", prog, sizeof prog)) {
		ok(1, "# SKIP dnsmasq not installed: no real-name-server cases");
		return done_testing();
	}
	port = free_port();
	if (start_dnsmasq(prog, port) < 0) {
		ok(0, "dnsmasq started on 127.0.0.1:%d", port);
		show_log();
		return done_testing();
	}
	test_dnsmasq(port);
	if (tap_failed)
		show_log();
	return done_testing();
}
