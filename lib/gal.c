#include "config.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "gal.h"

char *gal_fold(const char *s)
{
	gchar *nfkd, *folded;
	GString *out;
	const gchar *p;
	char *ret;

	if (!g_utf8_validate(s, -1, NULL))
		return NULL;
	nfkd = g_utf8_normalize(s, -1, G_NORMALIZE_NFKD);
	if (nfkd == NULL)
		return NULL;
	out = g_string_new(NULL);
	for (p = nfkd; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		GUnicodeType t = g_unichar_type(c);

		if (t != G_UNICODE_NON_SPACING_MARK && t != G_UNICODE_SPACING_MARK &&
		    t != G_UNICODE_ENCLOSING_MARK)
			g_string_append_unichar(out, c);
	}
	folded = g_utf8_casefold(out->str, (gssize)out->len);
	g_string_free(out, TRUE);
	g_free(nfkd);
	/* ß folds to "ss" and the like; malloc'd copy so callers use free(). */
	ret = strdup(folded);
	g_free(folded);
	return ret;
}

static int contains(const char *hay, const char *folded)
{
	char *f = gal_fold(hay);
	int found = f != NULL && strstr(f, folded) != NULL;

	free(f);
	return found;
}

int gal_match(const struct user *u, const char *folded)
{
	if (contains(u->name, folded) || contains(u->address, folded))
		return 1;
	return u->addresses != NULL && contains(u->addresses, folded);
}

/* ---- vCard ---- */

/* A content line being written: folded before 75 octets without splitting
 * a UTF-8 sequence or an escape (RFC 6350 section 3.2). */
struct vline {
	struct io_out *o;
	size_t col;
};

static void vput(struct vline *v, const char *s, size_t n, int escape)
{
	size_t i = 0;

	while (i < n) {
		size_t len = 1;
		int esc = escape && strchr("\\,;", s[i]) != NULL;

		while (i + len < n && ((unsigned char)s[i + len] & 0xC0) == 0x80)
			len++;
		if (v->col + len + (size_t)esc > 75) {
			io_out_write(v->o, "\r\n ", 3);
			v->col = 1;
		}
		if (esc)
			io_out_write(v->o, "\\", 1);
		io_out_write(v->o, s + i, len);
		v->col += len + (size_t)esc;
		i += len;
	}
}

/* One property: name (with parameters) and a value, escaped when text. */
static void vprop(struct io_out *o, const char *name, const char *value, size_t n,
                  int text)
{
	struct vline v = { o, 0 };

	vput(&v, name, strlen(name), 0);
	vput(&v, ":", 1, 0);
	vput(&v, value, n, text);
	io_out_write(o, "\r\n", 2);
}

/* The family name is taken to be the last word and the given names the
 * rest: the usual Western order, all a display name without structure
 * allows. Returns the length of the given names (0 for one word). */
static size_t split_name(const char *name, const char **family)
{
	const char *sp = strrchr(name, ' ');

	*family = sp ? sp + 1 : name;
	return sp ? (size_t)(sp - name) : 0;
}

void gal_vcard(struct io_out *o, const struct user *u)
{
	const char *name = u->name[0] ? u->name : u->address, *family, *p;

	static const char head[] = "BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:individual\r\n";
	static const char tail[] = "END:VCARD\r\n";

	io_out_write(o, head, sizeof head - 1);
	vprop(o, "FN", name, strlen(name), 1);
	if (u->name[0]) {
		size_t given = split_name(u->name, &family);
		struct vline v = { o, 0 };

		vput(&v, "N:", 2, 0);
		vput(&v, family, strlen(family), 1);
		vput(&v, ";", 1, 0);
		vput(&v, u->name, given, 1);
		vput(&v, ";;;", 3, 0);
		io_out_write(o, "\r\n", 2);
	}
	vprop(o, "EMAIL;TYPE=work;PREF=1", u->address, strlen(u->address), 0);
	for (p = u->addresses; p != NULL;) {
		const char *comma = strchr(p, ',');

		vprop(o, "EMAIL;TYPE=work", p, comma ? (size_t)(comma - p) : strlen(p), 0);
		p = comma ? comma + 1 : NULL;
	}
	{
		struct vline v = { o, 0 };

		vput(&v, "UID:mailto:", 11, 0);
		vput(&v, u->address, strlen(u->address), 0);
		io_out_write(o, "\r\n", 2);
	}
	io_out_write(o, tail, sizeof tail - 1);
}

/* ---- LDIF ---- */

/* RFC 2849 SAFE-STRING: ASCII without NUL, CR, LF, not starting with
 * space, ':' or '<', and (RFC 2849 note 8) not ending with a space. */
static int ldif_safe(const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return 1;
	if (s[0] == ' ' || s[0] == ':' || s[0] == '<' || s[n - 1] == ' ')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80 || *s == '\r' || *s == '\n')
			return 0;
	return 1;
}

/* Write "attr: value" or "attr:: base64" for the n bytes of value,
 * folded at 76 columns. */
static void ldif_attr(struct io_out *o, const char *attr, const char *value, size_t n)
{
	char *copy = strndup(value, n), *b64 = NULL;
	const char *v = copy;
	size_t col, i, vlen;
	int safe;

	if (copy == NULL) {
		o->error = o->error ? o->error : ENOMEM;   /* reported by the flush */
		return;
	}
	safe = ldif_safe(copy);
	if (!safe && (b64 = malloc(BASE64_ENCODED_SIZE(n))) != NULL) {
		base64_encode(copy, n, b64);
		v = b64;
	}
	vlen = strlen(v);
	io_out_write(o, attr, strlen(attr));
	io_out_write(o, safe ? ": " : ":: ", safe ? 2 : 3);
	col = strlen(attr) + (safe ? 2 : 3);
	for (i = 0; i < vlen; i++, col++) {
		if (col == 76) {
			io_out_write(o, "\n ", 2);
			col = 1;
		}
		io_out_write(o, v + i, 1);
	}
	io_out_write(o, "\n", 1);
	free(b64);
	free(copy);
}

static void ldif_str(struct io_out *o, const char *attr, const char *value)
{
	ldif_attr(o, attr, value, strlen(value));
}

void gal_ldif(struct io_out *o, const struct user *u, const char *base)
{
	size_t n = strlen(u->address), i, d = 0, given;
	char *dn = malloc(2 * n + strlen(base) + 8);
	const char *p, *family;

	if (dn == NULL) {
		o->error = o->error ? o->error : ENOMEM;
		return;
	}
	/* The address as a DN value (RFC 4514 section 2.4). */
	d += (size_t)snprintf(dn, 6, "mail=");
	for (i = 0; i < n; i++) {
		if (strchr(",+\"\\<>;=", u->address[i]) != NULL || (i == 0 && u->address[i] == '#'))
			dn[d++] = '\\';
		dn[d++] = u->address[i];
	}
	snprintf(dn + d, strlen(base) + 2, ",%s", base);
	ldif_str(o, "dn", dn);
	free(dn);
	ldif_str(o, "objectClass", "top");
	ldif_str(o, "objectClass", "person");
	ldif_str(o, "objectClass", "organizationalPerson");
	ldif_str(o, "objectClass", "inetOrgPerson");
	if (u->name[0]) {
		given = split_name(u->name, &family);
		ldif_str(o, "cn", u->name);
		ldif_str(o, "sn", family);
		if (given > 0)
			ldif_attr(o, "givenName", u->name, given);
		ldif_str(o, "displayName", u->name);
	} else {
		/* person requires cn and sn: the address stands in for both */
		ldif_str(o, "cn", u->address);
		ldif_str(o, "sn", u->address);
	}
	ldif_str(o, "mail", u->address);
	for (p = u->addresses; p != NULL;) {
		const char *comma = strchr(p, ',');

		ldif_attr(o, "mail", p, comma ? (size_t)(comma - p) : strlen(p));
		p = comma ? comma + 1 : NULL;
	}
	io_out_write(o, "\n", 1);
}

int gal_default_base(const char *domain, char *out, size_t outsz)
{
	size_t o = 0;
	int n = snprintf(out, outsz, "ou=people");

	if (n < 0 || (size_t)n >= outsz)
		return -1;
	o = (size_t)n;
	while (*domain) {
		size_t len = strcspn(domain, ".");

		n = snprintf(out + o, outsz - o, ",dc=%.*s", (int)len, domain);
		if (n < 0 || (size_t)n >= outsz - o)
			return -1;
		o += (size_t)n;
		domain += len;
		if (*domain == '.')
			domain++;
	}
	return 0;
}
