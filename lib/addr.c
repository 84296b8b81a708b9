#include "config.h"

#include <stdio.h>
#include <string.h>

#include "addr.h"

static int is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1;   /* UTF-8, as RFC 6531 extends atext */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

int addr_local_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > ADDR_LOCAL_MAX || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!is_atext((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

int addr_domain_valid(const char *s)
{
	size_t n = strlen(s), label = 0, i;

	if (n == 0 || n > 253)
		return 0;
	if (s[0] == '[') {
		i = strncmp(s + 1, "IPv6:", 5) == 0 ? 6 : 1;
		if (s[n - 1] != ']' || i + 1 >= n)
			return 0;
		for (; i + 1 < n; i++)
			if (strchr("0123456789abcdefABCDEF.:", s[i]) == NULL)
				return 0;
		return 1;
	}
	for (i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		           (c >= '0' && c <= '9') || c == '-' || c >= 0x80) {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

int addr_valid(const char *s)
{
	const char *at = strrchr(s, '@');

	if (at == NULL || strlen(s) > ADDR_MAX)
		return 0;
	return addr_local_valid(s, (size_t)(at - s)) && addr_domain_valid(at + 1);
}

char *addr_lower(char *s)
{
	for (char *p = s; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

int addr_qualify(const char *name, const char *domain, char *out, size_t outsz)
{
	int n;

	if (strchr(name, '@') == NULL && domain != NULL && domain[0] != '\0')
		n = snprintf(out, outsz, "%s@%s", name, domain);
	else
		n = snprintf(out, outsz, "%s", name);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

const char *addr_domain(const char *s)
{
	const char *at = strrchr(s, '@');

	return at ? at + 1 : NULL;
}
