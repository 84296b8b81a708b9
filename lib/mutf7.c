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

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static int put_utf8(uint32_t cp, char *out, size_t outsz, size_t *o)
{
	unsigned char b[4];
	int len;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp; len = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3f)); len = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f)); len = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f)); len = 4;
	}
	if (*o + (size_t)len >= outsz)
		return -1;
	for (int i = 0; i < len; i++)
		out[(*o)++] = (char)b[i];
	return 0;
}

int mutf7_decode(const char *in, char *out, size_t outsz)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	if (outsz == 0)
		return -1;
	while (*s != '\0') {
		uint32_t bits = 0, high = 0;
		int nbits = 0, v, units = 0;

		if (*s < 0x20 || *s >= 0x7f)
			return -1;
		if (*s != '&') {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = (char)*s++;
			continue;
		}
		s++;
		if (*s == '-') {   /* "&-" is "&" */
			if (o + 1 >= outsz)
				return -1;
			out[o++] = '&';
			s++;
			continue;
		}
		for (; (v = b64_value(*s)) >= 0; s++) {
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			uint32_t u = (bits >> nbits) & 0xffff;

			units++;
			if (high != 0) {
				if (u < 0xdc00 || u > 0xdfff)
					return -1;
				if (put_utf8(0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00), out, outsz, &o) < 0)
					return -1;
				high = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				return -1;
			} else if (u >= 0x20 && u < 0x7f) {
				return -1;   /* printable ASCII must be itself */
			} else if (put_utf8(u, out, outsz, &o) < 0) {
				return -1;
			}
		}
		/* a run ends in "-", holds something, and pads with zero bits */
		if (*s != '-' || units == 0 || high != 0 || nbits >= 6 ||
		    (bits & ((1u << nbits) - 1)) != 0)
			return -1;
		s++;
		if (s[0] == '&' && s[1] != '-')
			return -1;   /* two runs side by side: not canonical */
	}
	out[o] = '\0';
	return (int)o;
}
