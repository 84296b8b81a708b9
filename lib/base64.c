#include "config.h"

#include "base64.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(const void *data, size_t n, char *out)
{
	const unsigned char *p = data;
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = alphabet[p[i] >> 2];
		out[o++] = alphabet[(p[i] & 3) << 4 | p[i + 1] >> 4];
		out[o++] = alphabet[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
		out[o++] = alphabet[p[i + 2] & 63];
	}
	if (i < n) {
		out[o++] = alphabet[p[i] >> 2];
		if (i + 1 < n) {
			out[o++] = alphabet[(p[i] & 3) << 4 | p[i + 1] >> 4];
			out[o++] = alphabet[(p[i + 1] & 15) << 2];
		} else {
			out[o++] = alphabet[(p[i] & 3) << 4];
			out[o++] = '=';
		}
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static int value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long base64_decode(const char *s, size_t n, unsigned char *out, size_t outsz)
{
	size_t i, o = 0, pad = 0;
	int v[4], k;

	if (n % 4 != 0)
		return -1;
	if (n > 0 && s[n - 1] == '=')
		pad = n > 1 && s[n - 2] == '=' ? 2 : 1;
	if ((n / 4) * 3 - pad > outsz)
		return -1;
	for (i = 0; i < n; i += 4) {
		for (k = 0; k < 4; k++) {
			v[k] = value(s[i + k]);
			if (v[k] < 0 && !(i + 4 == n && k >= 4 - (int)pad))
				return -1;
		}
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (i + 4 == n && pad == 2) {
			if (v[1] & 15)
				return -1;   /* non-zero bits after the data: not canonical */
			break;
		}
		out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (i + 4 == n && pad == 1) {
			if (v[2] & 3)
				return -1;
			break;
		}
		out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	return (long)o;
}
