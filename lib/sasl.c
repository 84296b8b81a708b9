#include "config.h"

#include <string.h>

#include "base64.h"
#include "sasl.h"

enum sasl_result sasl_exchange(struct auth *a, struct net *n, const char *prefix,
                               const char *initial, struct err *e)
{
	char line[SASL_LINE_MAX + 2], b64[BASE64_ENCODED_SIZE(AUTH_MSG_MAX)];
	unsigned char in[AUTH_MSG_MAX + 1], out[AUTH_MSG_MAX + 1];
	enum sasl_result r = SASL_FAIL;
	enum auth_status st;
	size_t outlen;
	long len = 0;
	int have = initial != NULL && initial[0] != '\0';

	if (have && strcmp(initial, "=") != 0) {
		len = base64_decode(initial, strlen(initial), in, sizeof in);
		if (len < 0)
			return SASL_BAD_INITIAL;
	}
	for (;;) {
		st = auth_step(a, in, (size_t)len, have, out, &outlen, e);
		if (st != AUTH_CONTINUE)
			break;
		base64_encode(out, outlen, b64);
		net_printf(n, "%s%s\r\n", prefix, b64);
		if (net_flush(n) < 0) {
			r = SASL_GONE;
			goto out;
		}
		len = net_getline(n, line, SASL_LINE_MAX, NULL, NULL);
		if (len == -1) {
			r = SASL_GONE;
			goto out;
		}
		if (len == -2 || strcmp(line, "*") == 0) {
			r = len == -2 ? SASL_TOO_LONG : SASL_CANCELLED;
			goto out;
		}
		len = base64_decode(line, (size_t)len, in, sizeof in);
		explicit_bzero(line, sizeof line);
		if (len < 0) {
			r = SASL_BAD_RESPONSE;
			goto out;
		}
		have = 1;
	}
	r = st == AUTH_OK ? SASL_OK : st == AUTH_TEMPFAIL ? SASL_TEMPFAIL : SASL_FAIL;
out:
	explicit_bzero(line, sizeof line);
	explicit_bzero(in, sizeof in);
	return r;
}
