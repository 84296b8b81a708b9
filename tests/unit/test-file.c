/* Unit tests for lib/file.c. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "file.h"
#include "tap.h"

static char out[PATH_MAX];
static struct err e;

static const char *dirname_of(const char *p)
{
	if (file_dirname(p, out, sizeof out, &e) < 0)
		return "(error)";
	return out;
}

int main(void)
{
	char root[] = "/tmp/test-file.XXXXXX", p[PATH_MAX], small[8];
	struct stat st;

	is_str(dirname_of("a/b/c"), "a/b", "relative path");
	is_str(dirname_of("/var/mail/bob"), "/var/mail", "absolute path");
	is_str(dirname_of("/bob"), "/", "file in /");
	is_str(dirname_of("bob"), ".", "bare name");
	ok(file_dirname("/a/very/long/path", small, sizeof small, &e) < 0 && e.code == EX_USAGE,
	   "a dirname that does not fit is refused, not cut");
	ok(file_join(small, sizeof small, "abc", "defg", &e) < 0, "a join that does not fit is refused");
	ok(file_join(small, sizeof small, "abc", "def", &e) == 0 && strcmp(small, "abc/def") == 0,
	   "a join that fits exactly");

	if (mkdtemp(root) == NULL)
		return 1;
	snprintf(p, sizeof p, "%s/x/y/z", root);
	ok(file_mkdirs(p, 0700, &e) == 0 && stat(p, &st) == 0 && S_ISDIR(st.st_mode),
	   "mkdirs makes every missing level");
	ok(file_mkdirs(p, 0700, &e) == 0, "mkdirs on an existing directory succeeds");
	snprintf(p, sizeof p, "%s/x/file", root);
	fclose(fopen(p, "w"));
	ok(file_mkdirs(p, 0700, &e) < 0 && e.code == EX_CANTCREAT, "a file in the way: EX_CANTCREAT");
	snprintf(p, sizeof p, "%s/x/file/below", root);
	ok(file_mkdirs(p, 0700, &e) < 0 && e.code == EX_CANTCREAT, "below a file: EX_CANTCREAT");
	snprintf(p, sizeof p, "%s/x/y/z", root);
	ok(file_fsync_parent(p, &e) == 0, "fsync of an existing parent");
	{
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
		if (system(cmd) != 0)
			return 1;
	}
	return done_testing();
}
