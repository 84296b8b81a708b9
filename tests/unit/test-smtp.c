/* lib/smtp.c: RFC 5321 paths (dot-strings, quoted strings, address
 * literals, source routes, the null path, SMTPUTF8), ESMTP parameters,
 * xtext; lib/net.c: CIDR matching for relay rights. */
#include "config.h"

#include <string.h>

#include "net.h"
#include "smtp.h"
#include "tap.h"

static char addr[SMTP_PATH_MAX];
static const char *params, *why;

static int path(const char *s, int null_ok, int utf8)
{
	return smtp_parse_path(s, null_ok, utf8, addr, &params, &why);
}

static void good(const char *s, const char *want, const char *rest)
{
	ok(path(s, 1, 0) == 0 && strcmp(addr, want) == 0 && strcmp(params, rest) == 0,
	   "path %s -> %s", s, want);
}

static void bad(const char *s, int utf8, const char *code)
{
	ok(path(s, 0, utf8) == -1 && strncmp(why, code, strlen(code)) == 0,
	   "refused %s (%s)", s, path(s, 0, utf8) == -1 ? why : "accepted");
}

static void test_paths(void)
{
	char long_local[80], buf[400];

	good("<bob@example.org>", "bob@example.org", "");
	good(" <bob@example.org>", "bob@example.org", "");
	good("<bob@example.org> SIZE=10", "bob@example.org", "SIZE=10");
	good("<>", "", "");
	good("<\"john doe\"@example.org>", "\"john doe\"@example.org", "");
	good("<\"a\\\"b\"@example.org>", "\"a\\\"b\"@example.org", "");
	good("<first.last+tag@sub.example.org>", "first.last+tag@sub.example.org", "");
	good("<postmaster@[192.0.2.1]>", "postmaster@[192.0.2.1]", "");
	good("<x@[IPv6:2001:db8::1]>", "x@[IPv6:2001:db8::1]", "");
	good("<@relay.example,@other.example:bob@example.org>", "bob@example.org", "");
	bad("bob@example.org", 0, "501");
	bad("<>", 0, "501 5.1.3");
	bad("<bob@example.org", 0, "501");
	bad("<bob>", 0, "501");
	bad("<bob@>", 0, "501");
	bad("<@example.org>", 0, "501");
	bad("<a..b@example.org>", 0, "501");
	bad("<.a@example.org>", 0, "501");
	bad("<a b@example.org>", 0, "501");
	bad("<a@exa mple.org>", 0, "501");
	bad("<a@-example.org>", 0, "501");
	bad("<\"unterminated@example.org>", 0, "501");
	bad("<\"a\x01b\"@example.org>", 0, "501");
	bad("<bob@example.org>x", 0, "501 5.5.4");
	bad("<j\xc3\xbcrgen@example.org>", 0, "553 5.6.7");
	bad("<bob@b\xc3\xbc" "cher.example>", 0, "553 5.6.7");
	ok(path("<j\xc3\xbcrgen@b\xc3\xbc" "cher.example>", 0, 1) == 0, "UTF-8 with SMTPUTF8");
	memset(long_local, 'a', 65);
	long_local[65] = '\0';
	snprintf(buf, sizeof buf, "<%s@example.org>", long_local);
	bad(buf, 0, "501");
	long_local[64] = '\0';
	snprintf(buf, sizeof buf, "<%s@example.org>", long_local);
	ok(path(buf, 0, 0) == 0, "a 64-byte local part is fine");
}

static void test_params(void)
{
	struct smtp_param p[SMTP_PARAMS_MAX];

	ok(smtp_parse_params("", p, SMTP_PARAMS_MAX, &why) == 0, "no parameters");
	ok(smtp_parse_params("size=100 BODY=8BITMIME SMTPUTF8", p, SMTP_PARAMS_MAX, &why) == 3 &&
	   strcmp(p[0].keyword, "SIZE") == 0 && strcmp(p[0].value, "100") == 0 &&
	   strcmp(p[2].keyword, "SMTPUTF8") == 0 && !p[2].has_value, "three parameters, keywords upper-cased");
	ok(smtp_parse_params("A=b  C=d", p, SMTP_PARAMS_MAX, &why) == 2, "two blanks between");
	ok(smtp_parse_params("A=", p, SMTP_PARAMS_MAX, &why) == -1, "empty value");
	ok(smtp_parse_params("A=b=c", p, SMTP_PARAMS_MAX, &why) == -1, "'=' in a value");
	ok(smtp_parse_params("A=b\x01", p, SMTP_PARAMS_MAX, &why) == -1, "control character in a value");
	ok(smtp_parse_params("A=b\r", p, SMTP_PARAMS_MAX, &why) == -1, "CR in a value");
	ok(smtp_parse_params("-A=b", p, SMTP_PARAMS_MAX, &why) == -1, "keyword starting with '-'");
	ok(smtp_parse_params("A_B=c", p, SMTP_PARAMS_MAX, &why) == -1, "'_' in a keyword");
	ok(smtp_parse_params("A B C D E F G H I J K L M N O P Q", p, SMTP_PARAMS_MAX, &why) == -1,
	   "too many parameters");
}

static void test_xtext(void)
{
	char out[64];

	ok(smtp_xtext_decode("abc+2Bdef+3D", out, sizeof out) == 0 && strcmp(out, "abc+def=") == 0,
	   "xtext decodes +XX");
	ok(smtp_xtext_decode("abc+2", out, sizeof out) == -1, "truncated +X");
	ok(smtp_xtext_decode("abc+zz", out, sizeof out) == -1, "+ with non-hex");
	ok(smtp_xtext_decode("a=b", out, sizeof out) == -1, "'=' is not xtext");
}

static void test_cidr(void)
{
	ok(net_cidr_match("192.0.2.7", "192.0.2.0/24"), "IPv4 in /24");
	ok(!net_cidr_match("192.0.3.7", "192.0.2.0/24"), "IPv4 outside /24");
	ok(net_cidr_match("10.1.2.3", "10.0.0.0/8"), "IPv4 in /8");
	ok(net_cidr_match("127.0.0.1", "127.0.0.1"), "a single address");
	ok(net_cidr_match("203.0.113.9", "0.0.0.0/0"), "/0 matches all");
	ok(net_cidr_match("2001:db8::5", "2001:db8::/32"), "IPv6 in /32");
	ok(!net_cidr_match("2001:db9::5", "2001:db8::/32"), "IPv6 outside /32");
	ok(net_cidr_match("::ffff:192.0.2.7", "192.0.2.0/24"), "IPv4-mapped IPv6 in an IPv4 net");
	ok(!net_cidr_match("192.0.2.7", "192.0.2.0/33"), "/33 is malformed");
	ok(!net_cidr_match("192.0.2.7", "192.0.2.0/"), "empty prefix length");
	ok(!net_cidr_match("unknown", "0.0.0.0/0"), "no address, no match");
}

int main(void)
{
	test_paths();
	test_params();
	test_xtext();
	test_cidr();
	return done_testing();
}
