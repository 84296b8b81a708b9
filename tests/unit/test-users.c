/* The users file: the line parser (malformed lines, long lines, escapes,
 * odd characters), formatting round trips, lookups through the index and
 * by scanning, and edits. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "users.h"

static struct err e;

static int parse(const char *line, struct user *u)
{
	return users_parse(line, strlen(line), u, &e);
}

static void bad(const char *line, const char *why)
{
	struct user u;

	ok(parse(line, &u) == -1, "malformed: %s (%s)", why, e.msg);
}

static void test_parse(void)
{
	struct user u;
	char *line, *big;

	ok(parse("# a comment", &u) == 0, "comment");
	ok(parse("   ", &u) == 0, "blank line");
	ok(parse("Bob@Example.ORG:$y$x:example.org/bob/Maildir/:Bob Smith:1G:"
	         "disabled=yes addresses=rob@example.org,R@example.net x-dept=sales", &u) == 1,
	   "full line");
	is_str(u.address, "bob@example.org", "address lower-cased");
	is_str(u.hash, "$y$x", "hash");
	is_str(u.mailbox, "example.org/bob/Maildir/", "mailbox");
	is_str(u.name, "Bob Smith", "name");
	is_str(u.quota, "1G", "quota");
	ok(u.disabled == 1, "disabled");
	is_str(u.addresses, "rob@example.org,r@example.net", "addresses lower-cased");
	is_str(u.extra ? u.extra : "(null)", "x-dept=sales", "x- fields kept");
	ok(user_has_address(&u, "R@EXAMPLE.NET") && !user_has_address(&u, "x@example.net"),
	   "user_has_address");
	line = users_format(&u);
	is_str(line, "bob@example.org:$y$x:example.org/bob/Maildir/:Bob Smith:1G:disabled=yes "
	       "addresses=rob@example.org,r@example.net x-dept=sales\n", "formatted back");
	free(line);
	user_free(&u);

	ok(parse("a@b.c:h", &u) == 1 && u.mailbox[0] == '\0' && u.name[0] == '\0', "two fields are enough");
	line = users_format(&u);
	is_str(line, "a@b.c:h:\n", "short line formatted with its empty mailbox");
	free(line);
	user_free(&u);

	ok(parse("a@b.c:h:/m/:Smith\\: Bob \\\\ Jr::", &u) == 1, "escaped colon and backslash");
	is_str(u.name, "Smith: Bob \\ Jr", "unescaped name");
	line = users_format(&u);
	is_str(line, "a@b.c:h:/m/:Smith\\: Bob \\\\ Jr\n", "escapes written back");
	free(line);
	user_free(&u);

	ok(parse("a@b.c:h:/m/:Zoë Ødegård 王::x-note=two\\ words", &u) == 1, "UTF-8 name, escaped blank");
	is_str(u.name, "Zoë Ødegård 王", "UTF-8 name kept");
	is_str(u.extra, "x-note=two\\ words", "x- field kept in file form");
	user_free(&u);

	bad("nobody", "no password field");
	bad("not an address:h", "invalid address");
	bad("a@b.c:h:m:n:q:e:extra", "seven fields");
	bad("a@b.c:h:../../etc/:n", "mailbox climbing out");
	bad("a@b.c:h:x/../y/:n", "mailbox with .. inside");
	bad("a@b.c:h:m:n:lots", "bad quota");
	bad("a@b.c:h:m:n::disabled=maybe", "disabled=maybe");
	bad("a@b.c:h:m:n::colour=red", "unknown extra field");
	bad("a@b.c:h:m:n::addresses=x", "invalid extra address");
	bad("a@b.c:h:m:n::scram-sha-256=1,2,3", "malformed SCRAM keys");
	bad("a@b.c:h:m:n::novalue", "extra field without =");
	bad("a@b.c:h:m:bad\x01name", "control character");
	bad("a@b.c:h:m:\xff\xfe", "invalid UTF-8 name");
	bad("a@b.c:h:m:n\\", "trailing backslash");
	ok(parse("a@b.c:{PLAIN}two words:m", &u) == 1 && strcmp(u.hash, "{PLAIN}two words") == 0,
	   "a blank in a {PLAIN} password is kept");
	user_free(&u);
	big = malloc(USERS_LINE_MAX + 100);
	memset(big, 'x', USERS_LINE_MAX + 99);
	memcpy(big, "a@b.c:h:m:", 10);
	big[USERS_LINE_MAX + 99] = '\0';
	bad(big, "line over the limit");
	free(big);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static void test_lookup(void)
{
	char dir[] = "/tmp/test-users.XXXXXX", path[256], idx[300];
	struct users_file f;
	struct user u;
	int scanned;

	if (mkdtemp(dir) == NULL)
		return;
	snprintf(path, sizeof path, "%s/users", dir);
	snprintf(idx, sizeof idx, "%s.cdb", path);
	write_file(path, "# accounts\n"
	                 "bob@example.org:h1:b/:Bob::addresses=robert@example.org\n"
	                 "\n"
	                 "alice@example.org:h2:a/:Alice\n");
	ok(users_lookup(path, "alice@example.org", &u, &scanned, &e) == 1 && scanned &&
	   u.lineno == 4, "found by scanning without an index, with its line number");
	user_free(&u);
	ok(users_lookup(path, "ROBERT@example.org", &u, &scanned, &e) == 1 &&
	   strcmp(u.address, "bob@example.org") == 0, "found by an extra address");
	user_free(&u);
	ok(users_lookup(path, "carol@example.org", &u, &scanned, &e) == 0, "absent");

	ok(users_open(&f, path, 1, &e) == 0, "open for editing");
	ok(users_commit(&f, &e) == 0, "rewrite builds the index");
	users_close(&f);
	ok(access(idx, F_OK) == 0, "index exists");
	ok(users_lookup(path, "alice@example.org", &u, &scanned, &e) == 1 && !scanned &&
	   u.lineno == 4 && strcmp(u.name, "Alice") == 0, "found through the index");
	user_free(&u);
	ok(users_lookup(path, "robert@example.org", &u, &scanned, &e) == 1 && !scanned,
	   "extra address through the index");
	user_free(&u);
	ok(users_lookup(path, "carol@example.org", &u, &scanned, &e) == 0 && !scanned,
	   "absent through the index");

	/* A hand edit: the index no longer matches and is ignored. */
	write_file(path, "carol@example.org:h3:c/:Carol\nalice@example.org:h2:a/:Alice B\n");
	ok(users_lookup(path, "carol@example.org", &u, &scanned, &e) == 1 && scanned,
	   "stale index ignored: the hand-added account is found");
	user_free(&u);
	ok(users_lookup(path, "bob@example.org", &u, &scanned, &e) == 0,
	   "stale index ignored: the hand-removed account is gone");

	write_file(path, "bob@example.org:h1:b/:Bob\nbroken line\nalice@example.org:h\n");
	ok(users_open(&f, path, 0, &e) == -1 && strstr(e.msg, "users:2:") != NULL,
	   "a malformed line stops a full read, naming it (%s)", e.msg);
	ok(users_lookup(path, "alice@example.org", &u, &scanned, &e) == 1,
	   "a lookup of another account still works");
	user_free(&u);

	write_file(path, "bob@example.org:h1\nx@example.org:h:::: addresses=bob@example.org\n");
	ok(users_open(&f, path, 0, &e) == -1 && strstr(e.msg, "already used on line 1") != NULL,
	   "duplicate address reported (%s)", e.msg);

	write_file(path, "bob@example.org:h1:b/\n");
	chmod(path, 0640);
	ok(users_open(&f, path, 1, &e) == 0, "open again");
	{
		struct user n = { .address = "new@example.org", .hash = "h", .mailbox = "",
		                  .name = "New", .quota = "" };
		struct user clash = { .address = "c@example.org", .hash = "h", .mailbox = "",
		                      .name = "", .quota = "", .addresses = "bob@example.org" };
		struct stat st;

		ok(users_put(&f, &n, &e) == 0, "put a new account");
		ok(users_put(&f, &clash, &e) == -1, "an address of another account is refused (%s)", e.msg);
		ok(users_find(&f, "NEW@example.org") == 1, "found in the open file");
		users_remove(&f, 0);
		ok(users_commit(&f, &e) == 0, "commit");
		users_close(&f);
		ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "mode kept over the rewrite");
	}
	ok(users_lookup(path, "new@example.org", &u, &scanned, &e) == 1 && !scanned && u.lineno == 1,
	   "the edit is visible through the fresh index");
	user_free(&u);
	ok(users_lookup(path, "bob@example.org", &u, &scanned, &e) == 0, "the removed one is gone");

	{
		struct user m = { .address = "x@example.org", .mailbox = "" };
		char out[256];
		int maildir;

		ok(users_mailbox(&m, "/var/vmail", out, sizeof out, &maildir, &e) == 0 &&
		   strcmp(out, "/var/vmail/example.org/x/Maildir/") == 0 && maildir, "default mailbox");
		m.mailbox = "mail/x.mbox";
		ok(users_mailbox(&m, "/var/vmail", out, sizeof out, &maildir, &e) == 0 &&
		   strcmp(out, "/var/vmail/mail/x.mbox") == 0 && !maildir, "relative mbox");
		m.mailbox = "/srv/x/";
		ok(users_mailbox(&m, "/var/vmail", out, sizeof out, &maildir, &e) == 0 &&
		   strcmp(out, "/srv/x/") == 0 && maildir, "absolute Maildir");
		m.address = "a/b@example.org";
		m.mailbox = "";
		ok(users_mailbox(&m, "/var/vmail", out, sizeof out, &maildir, &e) == -1,
		   "no default for an address with a slash");
	}
	unlink(path);
	unlink(idx);
	snprintf(idx, sizeof idx, "%s.lock", path);
	unlink(idx);
	rmdir(dir);
}

int main(void)
{
	test_parse();
	test_lookup();
	return done_testing();
}
