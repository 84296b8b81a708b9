/* Unit tests for lib/maildir.c: folder names and a delivery. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "maildir.h"
#include "tap.h"

static char buf[512];
static struct err e;

static const char *folder(const char *name)
{
	if (maildir_folder_dir(name, buf, sizeof buf, &e) < 0)
		return "(refused)";
	return buf;
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int main(void)
{
	char root[] = "/tmp/test-maildir.XXXXXX", p[PATH_MAX];
	struct msg_opts mo = { "s@x", "r@y", 0 };
	struct maildir_delivery d;
	struct stat st;
	unsigned long size, wsize;
	FILE *in;

	is_str(folder("Work/Reports"), ".Work.Reports", "slash separates levels");
	is_str(folder("Work.Reports"), ".Work.Reports", "dot separates levels");
	is_str(folder("INBOX"), "", "INBOX is the Maildir itself");
	is_str(folder("inbox"), "", "INBOX in any case");
	is_str(folder("Entw\xc3\xbcrfe"), ".Entw&APw-rfe", "UTF-8 stored as modified UTF-7");
	is_str(folder("A&B"), ".A&-B", "& escaped");
	is_str(folder(".."), "(refused)", ".. refused");
	is_str(folder("../../etc"), "(refused)", "../ refused");
	is_str(folder(".hidden"), "(refused)", "leading dot refused");
	is_str(folder("/abs"), "(refused)", "leading slash refused");
	is_str(folder("a//b"), "(refused)", "empty component refused");
	is_str(folder("a/"), "(refused)", "trailing separator refused");
	is_str(folder("a\nb"), "(refused)", "control character refused");
	is_str(folder("a\x7f"), "(refused)", "DEL refused");
	is_str(folder("\xff"), "(refused)", "invalid UTF-8 refused");
	ok(e.code == EX_USAGE, "refusal is a usage error");

	if (mkdtemp(root) == NULL)
		return 1;
	in = tmpfile();
	fputs("Subject: t\r\n\r\nbody\r\n", in);
	fflush(in);
	rewind(in);
	memset(&d, 0, sizeof d);
	d.root = root;
	d.folder = "Lists/C\xc3\xa9";
	d.host = "mx:1/a,b";
	d.msg = &mo;
	d.over_quota_code = EX_TEMPFAIL;
	ok(maildir_deliver(&d, fileno(in), &e) == 0, "delivery into a new Maildir and folder");
	snprintf(p, sizeof p, "%s/.Lists.C&AOk-/maildirfolder", root);
	ok(stat(p, &st) == 0, "folder created with maildirfolder");
	snprintf(p, sizeof p, "%s/cur", root);
	ok(stat(p, &st) == 0 && (st.st_mode & 0777) == 0700, "Maildir created with mode 0700");
	ok(strstr(d.path, "/.Lists.C&AOk-/new/") != NULL, "file in the folder's new/");
	ok(strstr(d.path, ".mx\\0721\\057a\\054b,S=") != NULL, "host escaped: %s", d.path);
	ok(sscanf(strstr(d.path, ",S="), ",S=%lu,W=%lu", &size, &wsize) == 2 &&
	   stat(d.path, &st) == 0 && (unsigned long)st.st_size == size && wsize == size + 5,
	   "S= is the file size and W= the CRLF size");
	snprintf(p, sizeof p, "%s/.Lists.C&AOk-/tmp", root);
	ok(count_files(p) == 0, "tmp/ is empty afterwards");
	fclose(in);
	{
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
		if (system(cmd) != 0)
			return 1;
	}
	return done_testing();
}
