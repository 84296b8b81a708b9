#include "config.h"

#include <stdint.h>

#include "mutf7.h"

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* Decode one UTF-8 sequence at s (n bytes left); returns its length or -1. */
static int utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	int len;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		len = 2; c = s[0] & 0x1f; min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3; c = s[0] & 0x0f; min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4; c = s[0] & 0x07; min = 0x10000;
	} else {
		return -1;
	}
	if ((size_t)len > n)
		return -1;
	for (int i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*cp = c;
	return len;
}

int mutf7_encode(const char *in, size_t n, char *out, size_t outsz)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0;

#define PUT(ch) do { if (o + 1 >= outsz) return -1; out[o++] = (ch); } while (0)
	if (outsz == 0)
		return -1;
	while (i < n) {
		if (s[i] >= 0x20 && s[i] < 0x7f) {
			PUT((char)s[i]);
			if (s[i] == '&')
				PUT('-');
			i++;
			continue;
		}
		/* A run of characters outside printable ASCII: UTF-16BE in base64. */
		uint32_t bits = 0;
		int nbits = 0;
		PUT('&');
		while (i < n && !(s[i] >= 0x20 && s[i] < 0x7f)) {
			uint32_t cp;
			uint16_t units[2];
			int len = utf8_next(s + i, n - i, &cp), nu;

			if (len < 0)
				return -1;
			i += (size_t)len;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				units[0] = (uint16_t)(0xd800 | (cp >> 10));
				units[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
				nu = 2;
			} else {
				units[0] = (uint16_t)cp;
				nu = 1;
			}
			for (int u = 0; u < nu; u++) {
				bits = (bits << 16) | units[u];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					PUT(b64[(bits >> nbits) & 0x3f]);
				}
			}
		}
		if (nbits > 0)
			PUT(b64[(bits << (6 - nbits)) & 0x3f]);
		PUT('-');
	}
	out[o] = '\0';
	return (int)o;
#undef PUT
}
