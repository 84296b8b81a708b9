#include "config.h"

#include <glib.h>
#include <string.h>
#include <sysexits.h>

#include "saslprep.h"

/* RFC 3454 table C.1.2, mapped to SPACE by RFC 4013 section 2.1. */
static int non_ascii_space(gunichar c)
{
	return c == 0x00A0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200B) ||
	       c == 0x202F || c == 0x205F || c == 0x3000;
}

/* RFC 3454 table B.1, "commonly mapped to nothing". */
static int mapped_to_nothing(gunichar c)
{
	return c == 0x00AD || c == 0x034F || c == 0x1806 || (c >= 0x180B && c <= 0x180D) ||
	       (c >= 0x200B && c <= 0x200D) || c == 0x2060 || (c >= 0xFE00 && c <= 0xFE0F) ||
	       c == 0xFEFF;
}

/* RFC 4013 section 2.3: tables C.1.2 to C.9, plus unassigned code points
 * (stored strings must not hold any, RFC 3454 section 7). */
static int prohibited(gunichar c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F) || non_ascii_space(c) ||
	       c == 0x06DD || c == 0x070F || c == 0x180E || c == 0x200C || c == 0x200D ||
	       c == 0x2028 || c == 0x2029 || (c >= 0x2060 && c <= 0x2063) ||
	       (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFD) ||
	       (c >= 0x1D173 && c <= 0x1D17A) || (c >= 0xE000 && c <= 0xF8FF) ||
	       c >= 0xF0000 || (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE ||
	       (c >= 0xD800 && c <= 0xDFFF) || (c >= 0x2FF0 && c <= 0x2FFB) ||
	       c == 0x0340 || c == 0x0341 || c == 0x200E || c == 0x200F ||
	       (c >= 0x202A && c <= 0x202E) || c == 0xE0001 || (c >= 0xE0020 && c <= 0xE007F) ||
	       g_unichar_type(c) == G_UNICODE_UNASSIGNED;
}

int saslprep(const char *s, char *out, size_t outsz, struct err *e)
{
	const unsigned char *p;
	GString *mapped;
	gchar *norm;
	const gchar *q;
	int rc = 0;

	for (p = (const unsigned char *)s; *p >= 0x20 && *p < 0x7F; p++)
		;
	if (*p == '\0') {
		if ((size_t)(p - (const unsigned char *)s) >= outsz)
			return err_set(e, EX_DATAERR, "password too long");
		memcpy(out, s, (size_t)(p - (const unsigned char *)s) + 1);
		return 0;
	}
	if (!g_utf8_validate(s, -1, NULL))
		return err_set(e, EX_DATAERR, "password is not valid UTF-8");
	mapped = g_string_new(NULL);
	for (q = s; *q; q = g_utf8_next_char(q)) {
		gunichar c = g_utf8_get_char(q);

		if (non_ascii_space(c))
			g_string_append_c(mapped, ' ');
		else if (!mapped_to_nothing(c))
			g_string_append_unichar(mapped, c);
	}
	norm = g_utf8_normalize(mapped->str, (gssize)mapped->len, G_NORMALIZE_NFKC);
	explicit_bzero(mapped->str, mapped->len);
	g_string_free(mapped, TRUE);
	if (norm == NULL)
		return err_set(e, EX_DATAERR, "password cannot be normalised");
	for (q = norm; *q; q = g_utf8_next_char(q))
		if (prohibited(g_utf8_get_char(q))) {
			rc = err_set(e, EX_DATAERR, "password holds a character SASLprep prohibits "
			             "(U+%04X)", (unsigned)g_utf8_get_char(q));
			break;
		}
	if (rc == 0 && norm[0] == '\0')
		rc = err_set(e, EX_DATAERR, "password is empty after SASLprep");
	if (rc == 0 && strlen(norm) >= outsz)
		rc = err_set(e, EX_DATAERR, "password too long");
	if (rc == 0)
		memcpy(out, norm, strlen(norm) + 1);
	explicit_bzero(norm, strlen(norm));
	g_free(norm);
	return rc;
}
