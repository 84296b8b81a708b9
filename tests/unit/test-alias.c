/* Aliases: parsing (continuations, quotes, errors with line numbers) and
 * resolution (accounts, subaddresses, bare names, catch-all, domain
 * rewriting, nesting, loops, self-reference, command and file targets). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "alias.h"
#include "tap.h"

static char dir[] = "/tmp/test-alias.XXXXXX", users[256], aliases[256];
static struct err e;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* The resolution of address as "kind:address[+detail]" joined by blanks,
 * or "ERR<code>". */
static const char *res(struct resolver *r, const char *address)
{
	static char out[4096];
	static const char *const kinds[] = { "local", "remote", "command", "file", "error" };
	struct target *t;
	size_t n, i, o = 0;

	if (resolve(r, address, &t, &n, &e) < 0) {
		snprintf(out, sizeof out, "ERR%d", e.code);
		return out;
	}
	out[0] = '\0';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, sizeof out - o, "%s%s:%s%s%s", i ? " " : "",
		                      kinds[t[i].kind], t[i].address, t[i].detail ? "+" : "",
		                      t[i].detail ? t[i].detail : "");
	resolve_free(t, n);
	return out;
}

static void test_parse(void)
{
	struct aliases al;
	const struct alias *a;
	const char *text;

	text = "# comment\n"
	       "Team@Example.org: bob, alice@example.org,\n"
	       "   \"|/usr/bin/logger -t mail\", /var/log/mail.copy\n"
	       "\n"
	       "postmaster:root\n";
	ok(aliases_parse(&al, text, strlen(text), "aliases", &e) == 0, "parse");
	ok(al.n == 2, "two entries");
	a = aliases_get(&al, "team@example.org");
	ok(a != NULL && a->ntarget == 4, "continuation line joined, name lower-cased");
	if (a != NULL && a->ntarget == 4) {
		is_str(a->target[2], "|/usr/bin/logger -t mail", "quoted command kept whole");
		is_str(a->target[3], "/var/log/mail.copy", "file target");
		ok(a->lineno == 2, "line number of the entry");
	}
	aliases_free(&al);

	text = "a: b\n\nb c\n";
	ok(aliases_parse(&al, text, strlen(text), "aliases", &e) == -1 &&
	   strstr(e.msg, "aliases:3:") != NULL, "missing colon reported with its line (%s)", e.msg);
	text = "a: b\na: c\n";
	ok(aliases_parse(&al, text, strlen(text), "aliases", &e) == -1 &&
	   strstr(e.msg, "aliases:2:") != NULL, "duplicate name reported (%s)", e.msg);
	text = "a: :include:/etc/list\n";
	ok(aliases_parse(&al, text, strlen(text), "aliases", &e) == -1, ":include: refused (%s)", e.msg);
	text = "a: \"b, c\n";
	ok(aliases_parse(&al, text, strlen(text), "aliases", &e) == -1, "unbalanced quote refused");
	text = "a: b,, c\n";
	ok(aliases_parse(&al, text, strlen(text), "aliases", &e) == -1, "empty target refused");
	text = "  b\n";
	ok(aliases_parse(&al, text, strlen(text), "aliases", &e) == -1, "continuation without an entry");
	text = "bad name: b\n";
	ok(aliases_parse(&al, text, strlen(text), "aliases", &e) == -1, "invalid name");
	text = "x: bad target\n";
	ok(aliases_parse(&al, text, strlen(text), "aliases", &e) == -1, "invalid target");
}

static void test_resolve(void)
{
	struct resolver r = {
		.users_file = users, .aliases_file = aliases,
		.local_domains = "example.org, example.net", .domain = "example.org",
		.delimiters = "+-",
	};

	write_file(users, "bob@example.org:h:b/\nalice@example.org:h:a/::: addresses=al@example.net\n"
	                  "carol-x@example.org:h:c/\ndana@example.org:h:d/\n");
	write_file(aliases,
	           "postmaster: bob\n"
	           "team@example.org: bob, alice@example.org, ext@remote.test\n"
	           "all@example.org: team@example.org, bob@example.org\n"
	           "loop1@example.org: loop2@example.org\n"
	           "loop2@example.org: loop1@example.org\n"
	           "copy@example.org: copy@example.org, bob\n"
	           "dana@example.org: dana@example.org, ext2@remote.test\n"
	           "bob+lists@example.org: alice\n"
	           "@example.net: bob\n"
	           "@old.example.org: @example.org\n"
	           "ghost@example.org: nobody\n"
	           "pipe@example.org: \"|/bin/cat\", /tmp/x\n"
	           "deep0@example.org: deep1@example.org\n"
	           "fwd@remote.test: alice\n");
	for (int i = 1; i < 25; i++) {   /* a chain deeper than the limit */
		FILE *f = fopen(aliases, "a");

		fprintf(f, "deep%d@example.org: deep%d@example.org\n", i, i + 1);
		fclose(f);
	}
	is_str(res(&r, "bob@example.org"), "local:bob@example.org", "account");
	is_str(res(&r, "BOB@Example.ORG"), "local:bob@example.org", "any case");
	is_str(res(&r, "bob"), "local:bob@example.org", "bare name takes the default domain");
	is_str(res(&r, "al@example.net"), "local:alice@example.org", "extra address of an account");
	is_str(res(&r, "bob+news@example.org"), "local:bob@example.org+news", "subaddress");
	is_str(res(&r, "bob-news@example.org"), "local:bob@example.org+news", "second delimiter");
	is_str(res(&r, "carol-x@example.org"), "local:carol-x@example.org",
	       "an account with a delimiter in its name is found whole");
	is_str(res(&r, "bob+lists@example.org"), "local:alice@example.org",
	       "an alias of the whole subaddress wins");
	is_str(res(&r, "postmaster@example.net"), "local:bob@example.org",
	       "bare alias applies to every local domain");
	is_str(res(&r, "team@example.org"), "local:bob@example.org local:alice@example.org "
	       "remote:ext@remote.test", "list alias");
	is_str(res(&r, "all@example.org"), "local:bob@example.org local:alice@example.org "
	       "remote:ext@remote.test", "nested, duplicates removed");
	ok(strncmp(res(&r, "loop1@example.org"), "error:", 6) == 0, "loop is an error target (%s)",
	   res(&r, "loop1@example.org"));
	is_str(res(&r, "copy@example.org"), "error:copy@example.org local:bob@example.org",
	       "self-reference in a local domain without an account: unknown");
	is_str(res(&r, "dana@example.org"), "local:dana@example.org remote:ext2@remote.test",
	       "self-reference keeps a copy in the account and forwards");
	is_str(res(&r, "anyone@example.net"), "local:bob@example.org", "catch-all");
	is_str(res(&r, "bob@old.example.org"), "remote:bob@old.example.org",
	       "a domain that is not local has no catch-all");
	is_str(res(&r, "nobody@example.org"), "ERR67", "unknown local address");
	is_str(res(&r, "ghost@example.org"), "error:nobody@example.org", "alias to an unknown user");
	is_str(res(&r, "pipe@example.org"), "error:|/bin/cat error:/tmp/x",
	       "command and file targets refused by default");
	ok(strstr(res(&r, "deep0@example.org"), "error:") != NULL, "nesting limit");
	is_str(res(&r, "someone@remote.test"), "remote:someone@remote.test", "remote domain");
	is_str(res(&r, "fwd@remote.test"), "local:alice@example.org", "alias of a remote address");
	is_str(res(&r, "not an address"), "ERR65", "malformed address");
	resolver_free(&r);

	r.allow_commands = r.allow_files = 1;
	r.local_domains = "example.org, example.net, old.example.org";
	is_str(res(&r, "pipe@example.org"), "command:|/bin/cat file:/tmp/x", "allowed when enabled");
	is_str(res(&r, "bob@old.example.org"), "local:bob@example.org", "@domain rewriting");
	is_str(res(&r, "jim@old.example.org"), "error:jim@example.org",
	       "@domain rewriting to an unknown user");
	r.delimiters = "";
	is_str(res(&r, "bob+news@example.org"), "ERR67", "no delimiters: no subaddressing");
	resolver_free(&r);

	write_file(aliases, "broken\n");
	is_str(res(&r, "bob@example.org"), "ERR78", "a broken aliases file is a configuration error");
	ok(strstr(e.msg, "aliases:1:") != NULL, "naming the line (%s)", e.msg);
	resolver_free(&r);
	unlink(aliases);
	unlink(users);
	is_str(res(&r, "bob@example.org"), "ERR75", "a missing users file: try later");
	resolver_free(&r);
}

int main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(users, sizeof users, "%s/users", dir);
	snprintf(aliases, sizeof aliases, "%s/aliases", dir);
	test_parse();
	test_resolve();
	rmdir(dir);
	return done_testing();
}
