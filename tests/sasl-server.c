/* sasl-server: lib/auth's SASL engine on stdin and stdout, so that a real
 * client (gsasl) can be tested against it without SMTP or IMAP around it.
 *
 * usage: sasl-server USERS REALM MECHANISM
 *
 * Reads one line per client message: base64, "=" for an empty message, or
 * "-" for no initial response. Answers each with one line: "+ BASE64" (a
 * challenge), "OK USER", "NO REASON" or "TEMP REASON", then exits 0 after
 * OK, 1 after NO, 2 after TEMP or bad input. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "base64.h"

int main(int argc, char **argv)
{
	static char line[2 * AUTH_MSG_MAX], b64[BASE64_ENCODED_SIZE(AUTH_MSG_MAX)];
	unsigned char in[AUTH_MSG_MAX + 1], out[AUTH_MSG_MAX + 1];
	struct auth a;
	struct err e;

	if (argc != 4 || auth_mech_named(argv[3]) == AUTH_NONE) {
		fprintf(stderr, "usage: sasl-server USERS REALM MECHANISM\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	auth_init(&a, argv[1], argv[2][0] ? argv[2] : NULL, 0);
	auth_start(&a, auth_mech_named(argv[3]));
	while (fgets(line, sizeof line, stdin) != NULL) {
		size_t outlen;
		long n = 0;
		int have = 1;

		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "-") == 0)
			have = 0;
		else if (strcmp(line, "=") != 0 &&
		         (n = base64_decode(line, strlen(line), in, sizeof in)) < 0) {
			printf("NO bad base64\n");
			return 2;
		}
		switch (auth_step(&a, in, (size_t)n, have, out, &outlen, &e)) {
		case AUTH_CONTINUE:
			base64_encode(out, outlen, b64);
			printf("+ %s\n", b64);
			break;
		case AUTH_OK:
			printf("OK %s\n", a.user);
			return 0;
		case AUTH_FAIL:
			printf("NO %s\n", e.msg);
			return 1;
		case AUTH_TEMPFAIL:
			printf("TEMP %s\n", e.msg);
			return 2;
		}
	}
	return 2;
}
