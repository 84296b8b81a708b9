/* Unit tests for lib/conf.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "tap.h"

static char path[] = "/tmp/test-conf.XXXXXX";

static void write_conf(const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

int main(void)
{
	struct conf c;
	struct err e;
	unsigned long n;
	int fd = mkstemp(path);

	close(fd);
	write_conf("# comment\n\n  hostname =  mx.example.org  \nlock_timeout=7\n");
	ok(conf_load(&c, path, &e) == 0, "a valid file loads");
	is_str(conf_get(&c, CONF_HOSTNAME, "def"), "mx.example.org", "value trimmed");
	is_str(conf_get(&c, CONF_HOME_MAILBOX, "Maildir/"), "Maildir/", "unset key gives default");
	ok(conf_get_uint(&c, CONF_LOCK_TIMEOUT, 30, 100, &n, &e) == 0 && n == 7, "number read");
	ok(conf_get_uint(&c, CONF_LOCK_TIMEOUT, 30, 5, &n, &e) < 0 && e.code == EX_CONFIG,
	   "number above its maximum refused");
	conf_free(&c);

	write_conf("hostname = a\nhostnmae = b\n");
	ok(conf_load(&c, path, &e) < 0 && e.code == EX_CONFIG && strstr(e.msg, ":2:") != NULL,
	   "unknown key refused with its line number: %s", e.msg);

	write_conf("hostname\n");
	ok(conf_load(&c, path, &e) < 0 && strstr(e.msg, "key = value") != NULL, "line without = refused");

	write_conf("lock_timeout = x\n");
	ok(conf_load(&c, path, &e) == 0 && conf_get_uint(&c, CONF_LOCK_TIMEOUT, 1, 9, &n, &e) < 0,
	   "non-numeric number refused");
	conf_free(&c);

	setenv("MAIL_CONF", path, 1);
	write_conf("hostname = from-env\n");
	ok(conf_load(&c, NULL, &e) == 0 && strcmp(conf_get(&c, CONF_HOSTNAME, ""), "from-env") == 0,
	   "MAIL_CONF names the file");
	conf_free(&c);

	unlink(path);
	ok(conf_load(&c, path, &e) < 0 && e.code == EX_CONFIG, "a named file must exist");
	ok(conf_load(&c, NULL, &e) < 0, "a file named by MAIL_CONF must exist");
	unsetenv("MAIL_CONF");
	return done_testing();
}
