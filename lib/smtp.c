#include "config.h"

#include <ctype.h>
#include <string.h>

#include "addr.h"
#include "smtp.h"

static int is_atext(unsigned char c, int utf8)
{
	if (c >= 0x80)
		return utf8;
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Dot-string or Quoted-string at *pp; copied to out. Returns 0 or -1. */
static int local_part(const char **pp, int utf8, char *out, size_t *olen, size_t max)
{
	const char *p = *pp;
	size_t o = *olen;

	if (*p == '"') {
		out[o++] = *p++;
		for (;;) {
			unsigned char c = (unsigned char)*p;

			if (o + 3 >= max)
				return -1;
			if (c == '"')
				break;
			if (c == '\\') {
				/* quoted-pairSMTP: backslash and %d32-126 */
				if ((unsigned char)p[1] < 32 || (unsigned char)p[1] > 126)
					return -1;
				out[o++] = *p++;
				out[o++] = *p++;
				continue;
			}
			/* qtextSMTP: %d32-33 / %d35-91 / %d93-126, UTF-8 with SMTPUTF8 */
			if (c < 32 || c == 127 || (c >= 0x80 && !utf8))
				return -1;
			out[o++] = *p++;
		}
		out[o++] = *p++;
	} else {
		size_t start = o;

		for (;;) {
			if (!is_atext((unsigned char)*p, utf8))
				return -1;   /* an empty atom */
			while (is_atext((unsigned char)*p, utf8)) {
				if (o + 2 >= max)
					return -1;
				out[o++] = *p++;
			}
			if (*p != '.')
				break;
			out[o++] = *p++;
		}
		if (o - start > ADDR_LOCAL_MAX)
			return -1;
	}
	*pp = p;
	*olen = o;
	return 0;
}

int smtp_parse_path(const char *s, int null_ok, int utf8, char *addr,
                    const char **params, const char **why)
{
	const char *p = s, *start;
	size_t o = 0;
	char domain[SMTP_PATH_MAX];

	while (*p == ' ')
		p++;
	if (*p != '<') {
		*why = "501 5.1.7 Syntax: the address must be in <angle brackets>";
		return -1;
	}
	p++;
	if (*p == '>') {
		if (!null_ok) {
			*why = "501 5.1.3 The null address <> is not allowed here";
			return -1;
		}
		addr[0] = '\0';
		p++;
		goto params;
	}
	if (*p == '@') {   /* A-d-l ":" : a source route, ignored */
		const char *colon = strchr(p, ':');

		if (colon == NULL || colon > strchr(p, '>')) {
			*why = "501 5.1.7 Syntax error in the source route";
			return -1;
		}
		p = colon + 1;
	}
	start = p;
	if (local_part(&p, utf8, addr, &o, SMTP_PATH_MAX) < 0 || *p != '@') {
		*why = "501 5.1.3 Bad address syntax";
		for (const char *q = start; *q && *q != '>'; q++)
			if ((unsigned char)*q >= 0x80 && !utf8) {
				*why = "553 5.6.7 UTF-8 address without SMTPUTF8";
				break;
			}
		return -1;
	}
	addr[o++] = *p++;
	{
		const char *end = strchr(p, '>');
		size_t n = end ? (size_t)(end - p) : 0;

		if (end == NULL || n == 0 || n >= sizeof domain || o + n + 1 > SMTP_PATH_MAX - 2) {
			*why = "501 5.1.3 Bad address syntax";
			return -1;
		}
		memcpy(domain, p, n);
		domain[n] = '\0';
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)domain[i] >= 0x80 && !utf8) {
				*why = "553 5.6.7 UTF-8 domain without SMTPUTF8";
				return -1;
			}
		if (!addr_domain_valid(domain)) {
			*why = "501 5.1.3 Bad address syntax";
			return -1;
		}
		memcpy(addr + o, domain, n + 1);
		p = end + 1;
	}
params:
	if (*p != '\0' && *p != ' ') {
		*why = "501 5.5.4 Syntax error after the address";
		return -1;
	}
	while (*p == ' ')
		p++;
	*params = p;
	return 0;
}

int smtp_parse_params(const char *s, struct smtp_param *p, int max, const char **why)
{
	int n = 0;

	while (*s != '\0') {
		size_t k = 0, v = 0;

		if (n == max) {
			*why = "555 5.5.4 Too many parameters";
			return -1;
		}
		memset(&p[n], 0, sizeof p[n]);
		/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
		if (!isalnum((unsigned char)*s)) {
			*why = "555 5.5.4 Malformed parameter";
			return -1;
		}
		while (isalnum((unsigned char)*s) || *s == '-') {
			if (k + 1 >= sizeof p[n].keyword) {
				*why = "555 5.5.4 Parameter name too long";
				return -1;
			}
			p[n].keyword[k++] = (char)toupper((unsigned char)*s++);
		}
		if (*s == '=') {
			s++;
			p[n].has_value = 1;
			/* esmtp-value = 1*(%d33-60 / %d62-126), UTF-8 per RFC 6531 */
			while (*s != '\0' && *s != ' ') {
				unsigned char c = (unsigned char)*s;

				if (c < 33 || c == '=' || c == 127 || v + 1 >= sizeof p[n].value) {
					*why = "555 5.5.4 Malformed parameter value";
					return -1;
				}
				p[n].value[v++] = *s++;
			}
			if (v == 0) {
				*why = "555 5.5.4 Empty parameter value";
				return -1;
			}
		}
		if (*s != '\0' && *s != ' ') {
			*why = "555 5.5.4 Malformed parameter";
			return -1;
		}
		while (*s == ' ')
			s++;
		n++;
	}
	return n;
}

int smtp_xtext_decode(const char *s, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (o + 1 >= outsz || c < 33 || c > 126 || c == '=')
			return -1;
		if (c == '+') {
			static const char hex[] = "0123456789ABCDEF";
			const char *h1 = s[1] ? strchr(hex, s[1]) : NULL;
			const char *h2 = h1 && s[2] ? strchr(hex, s[2]) : NULL;

			if (h1 == NULL || h2 == NULL)
				return -1;
			out[o++] = (char)((h1 - hex) << 4 | (h2 - hex));
			s += 2;
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return 0;
}
