/* Unit tests for lib/quota.c. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "quota.h"
#include "tap.h"

static char root[] = "/tmp/test-quota.XXXXXX";

static void put(const char *rel, const char *text)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", root, rel);
	f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
}

static void slurp(const char *rel, char *out, size_t n)
{
	char p[PATH_MAX];
	FILE *f;
	size_t got;

	snprintf(p, sizeof p, "%s/%s", root, rel);
	f = fopen(p, "r");
	got = f != NULL ? fread(out, 1, n - 1, f) : 0;
	out[got] = '\0';
	if (f != NULL)
		fclose(f);
}

int main(void)
{
	struct quota q;
	struct err e;
	char p[PATH_MAX], text[256];
	int over, active;

	ok(quota_parse("1000", &q, &e) == 0 && q.bytes == 1000 && q.count == 0, "bytes");
	ok(quota_parse("10M,50", &q, &e) == 0 && q.bytes == 10485760 && q.count == 50, "suffix and count");
	ok(quota_parse("2G", &q, &e) == 0 && q.bytes == 2147483648ULL, "G suffix");
	ok(quota_parse("10k", &q, &e) == 0 && q.bytes == 10240, "lower-case suffix");
	ok(quota_parse("5000000S,1000C", &q, &e) == 0 && q.bytes == 5000000 && q.count == 1000,
	   "Maildir++ form");
	ok(quota_parse("10X", &q, &e) < 0 && e.code == EX_USAGE, "bad suffix refused");
	ok(quota_parse("", &q, &e) < 0, "empty refused");
	ok(quota_parse("1,", &q, &e) < 0, "missing count refused");
	ok(quota_parse("99999999999999999999", &q, &e) < 0, "overflow refused");
	ok(quota_parse("20000000T", &q, &e) < 0, "overflow after suffix refused");

	if (mkdtemp(root) == NULL)
		return 1;
	const char *dirs[] = { "tmp", "new", "cur", ".Sent", ".Sent/cur", ".Sent/new", ".Sent/tmp" };
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
		mkdir(p, 0700);
	}
	ok(quota_check(root, NULL, 100, &over, &active, &e) == 0 && !active,
	   "no maildirsize and no limit: no quota");

	put("cur/1.M1P1.h,S=300,W=310:2,S", "");
	put(".Sent/cur/2.M1P1.h,S=200,W=205:2,S", "");
	put("new/3.M1P1.h", "12345");   /* no S=: its real size counts */
	q.bytes = 1000;
	q.count = 10;
	ok(quota_check(root, &q, 100, &over, &active, &e) == 0 && active && !over,
	   "under quota");
	slurp("maildirsize", text, sizeof text);
	is_str(text, "1000S,10C\n505 3\n", "maildirsize rebuilt from the file names");
	ok(quota_check(root, &q, 496, &over, &active, &e) == 0 && over, "one byte too many is over");
	ok(quota_check(root, &q, 495, &over, &active, &e) == 0 && !over, "exactly full fits");
	ok(quota_add(root, 400, 1, &e) == 0, "delivery recorded");
	slurp("maildirsize", text, sizeof text);
	is_str(text, "1000S,10C\n505 3\n400 1\n", "a line appended");
	ok(quota_check(root, NULL, 96, &over, &active, &e) == 0 && active && over,
	   "limits from maildirsize are enforced without a flag");
	q.count = 3;
	q.bytes = 0;
	ok(quota_check(root, &q, 1, &over, &active, &e) == 0 && over, "count limit");
	slurp("maildirsize", text, sizeof text);
	is_str(text, "3C\n505 3\n", "new limits rebuild the file");
	put("maildirsize", "1000S\n5 1\n10");
	q.bytes = 1000;
	q.count = 0;
	ok(quota_check(root, &q, 1, &over, &active, &e) == 0 && !over, "truncated last line");
	slurp("maildirsize", text, sizeof text);
	is_str(text, "1000S\n505 3\n", "a partial line triggers a rebuild");
	{
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
		if (system(cmd) != 0)
			return 1;
	}
	return done_testing();
}
