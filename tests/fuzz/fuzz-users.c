/* libFuzzer target for the users file, the aliases file and the SASL
 * engine. Invariants checked on every input:
 *  - a users line that parses formats to a line that parses to the same
 *    line again (what mail-user writes, it reads back unchanged);
 *  - the aliases parser and every SASL mechanism fail cleanly or succeed,
 *    never crash, and never authenticate with a wrong password.
 * Build and run with scripts/fuzz. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alias.h"
#include "auth.h"
#include "users.h"

static char users_path[] = "/tmp/fuzz-users.XXXXXX";

static void setup(void)
{
	int fd = mkstemp(users_path);
	static const char text[] =
		"user@example.org:{PLAIN}pencil:x/::::scram-sha-256=4096,W22ZaJ0SNY7soEsUEjb6gQ==,"
		"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
		"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=\n";

	if (fd < 0 || write(fd, text, sizeof text - 1) != (ssize_t)sizeof text - 1)
		abort();
	close(fd);
}

static void users_round_trip(const uint8_t *data, size_t n)
{
	struct user u, v;
	struct err e;
	char *once, *twice;

	if (users_parse((const char *)data, n, &u, &e) != 1)
		return;
	once = users_format(&u);
	if (once == NULL)
		abort();
	if (users_parse(once, strlen(once) - 1, &v, &e) != 1)
		abort();   /* what we write, we must read */
	twice = users_format(&v);
	if (twice == NULL || strcmp(once, twice) != 0)
		abort();
	free(once);
	free(twice);
	user_free(&u);
	user_free(&v);
}

static void sasl(const uint8_t *data, size_t n)
{
	unsigned char out[AUTH_MSG_MAX + 1];
	enum auth_status st = AUTH_CONTINUE;
	const uint8_t *p = data, *end = data + n;
	struct auth a;
	struct err e;
	size_t outlen;

	if (n == 0)
		return;
	auth_init(&a, users_path, "example.org", 0);
	auth_start(&a, (enum auth_mech)(1 + data[0] % 3));
	p++;
	/* messages separated by '\n', as a client would send lines */
	while (st == AUTH_CONTINUE && p <= end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		st = auth_step(&a, p, len, 1, out, &outlen, &e);
		if (outlen > AUTH_MSG_MAX)
			abort();
		p += len + 1;
	}
	/* "pencil" is the only password; a success must have used it. */
	if (st == AUTH_OK && memmem(data, n, "pencil", 6) == NULL &&
	    memmem(data, n, "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", 46) == NULL)
		abort();
	auth_end(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static int ready;
	struct aliases al;
	struct err e;

	if (!ready) {
		setup();
		ready = 1;
	}
	users_round_trip(data, n);
	if (aliases_parse(&al, (const char *)data, n, "fuzz", &e) == 0)
		aliases_free(&al);
	sasl(data, n);
	return 0;
}
