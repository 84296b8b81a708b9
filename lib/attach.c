/* attach: EICAR and the dangerous-attachment policy (see attach.h).
 *
 * Why zip archives are read by their central directory alone: it lists
 * every member name at the end of the file, so a bounded number of
 * small reads answers, whatever the archive holds, with no inflater and
 * nothing that a zip bomb can blow up. The local headers are ignored;
 * an archive built to show other names there is still judged by what
 * unzip tools list. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "attach.h"
#include "eicar.h"

#define ZIP_MAX_ENTRIES 10000
#define EOCD_LEN 22
#define EOCD_SCAN (EOCD_LEN + 65535)   /* the record and its longest comment */
#define CDH_LEN 46                       /* central directory header */
#define NAME_SHOWN 80                    /* of a file name in why */

static const char *const bad_ext[] = {
	"exe", "com", "scr", "pif", "cpl", "bat", "cmd", "vbs", "vbe", "js", "jse",
	"wsf", "wsh", "hta", "msi", "msp", "msc", "jar", "ps1", "psm1", "lnk", "scf",
	"reg", "dll", "sys", "iso", "img", "vhd", "vhdx", "appx", "msix",
	"application", "gadget"
};

static const char *const bad_type[] = {
	"x-msdownload", "x-dosexec", "x-ms-installer", "x-msi", "x-msdos-program",
	"vnd.microsoft.portable-executable", "java-archive", "hta", "x-ms-shortcut"
};

static const char *const zip_type[] = { "zip", "x-zip", "x-zip-compressed" };

struct check {
	char *why;
	size_t whysz;
	struct mime_msg *m;
	struct err *e;
	int failed;
	unsigned char *buf;      /* EOCD_SCAN octets, for the zip reader */
};

static int in_list(const char *s, size_t n, const char *const *v, size_t nv)
{
	for (size_t i = 0; i < nv; i++)
		if (strlen(v[i]) == n && strncasecmp(v[i], s, n) == 0)
			return 1;
	return 0;
}

/* The extension of name (n octets) after trailing dots and spaces are
 * dropped: *ext and *elen, and whether another extension comes before
 * it (*dbl). 0 when there is none. */
static int extension(const char *name, size_t n, const char **ext, size_t *elen, int *dbl)
{
	const char *base = name, *dot = NULL;

	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || name[i] == '\\')
			base = name + i + 1;
	n -= (size_t)(base - name);
	while (n > 0 && (base[n - 1] == '.' || base[n - 1] == ' '))
		n--;
	for (size_t i = n; i > 0; i--)
		if (base[i - 1] == '.') {
			dot = base + i - 1;
			break;
		}
	if (dot == NULL || dot == base)
		return 0;
	*ext = dot + 1;
	*elen = n - (size_t)(dot + 1 - base);
	*dbl = memchr(base + 1, '.', (size_t)(dot - base - 1)) != NULL;
	return *elen > 0;
}

static int bad_name(const char *name, size_t n, int *dbl)
{
	const char *ext;
	size_t elen;

	return extension(name, n, &ext, &elen, dbl) &&
	       in_list(ext, elen, bad_ext, sizeof bad_ext / sizeof bad_ext[0]);
}

/* Untrusted octets made printable ASCII for why: others become '?',
 * and a long name is cut with "...". */
static void shown(char *out, size_t outsz, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o + 4 >= outsz && i + 1 < n) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[o] = '\0';
}

/* why is cut to whysz on purpose: a verdict stands without its tail. */
static __attribute__((format(printf, 2, 3))) void say(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (c->whysz > 0 && vsnprintf(c->why, c->whysz, fmt, ap) < 0)
		c->why[0] = '\0';
	va_end(ap);
}

static void part_name(char *out, size_t outsz, const uint32_t *part, size_t depth)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < depth; i++) {
		int r = snprintf(out + o, outsz - o, i > 0 ? ".%lu" : "%lu", (unsigned long)part[i]);

		if (r < 0 || (size_t)r >= outsz - o) {
			out[o] = '\0';   /* deep beyond the buffer: the numbers so far */
			return;
		}
		o += (size_t)r;
	}
}

static int read_at(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The zip in fd (size octets): 1 with why set when a member name is
 * bad, 0 when none is or the archive cannot be read, -1 on a read
 * error of the temporary file. */
static int zip_check(struct check *c, int fd, uint64_t size, const char *zname)
{
	unsigned char *b = c->buf, h[CDH_LEN];
	uint64_t tail = size < EOCD_SCAN ? size : EOCD_SCAN, start = size - tail, eocd = 0;
	uint64_t cdoff, cdsize, off;
	unsigned entries;
	int found = 0, dbl;
	char shown_zip[NAME_SHOWN + 4], shown_member[NAME_SHOWN + 4];

	if (size < EOCD_LEN)
		return 0;
	if (read_at(fd, b, (size_t)tail, start) < 0)
		return -1;
	/* the last record whose comment ends at the end of the file */
	for (size_t i = (size_t)tail - EOCD_LEN + 1; i-- > 0;)
		if (le32(b + i) == 0x06054b50 && i + EOCD_LEN + le16(b + i + 20) == tail) {
			eocd = start + i;
			found = 1;
			break;
		}
	if (!found)
		return 0;
	{
		const unsigned char *r = b + (eocd - start);

		entries = le16(r + 10);
		cdsize = le32(r + 12);
		cdoff = le32(r + 16);
		if (entries == 0xffff || cdsize == 0xffffffff || cdoff == 0xffffffff)
			return 0;   /* ZIP64: not read */
	}
	if (cdsize > eocd)
		return 0;
	/* data before the archive (a self-extractor) moves every offset */
	if (cdoff + cdsize != eocd)
		cdoff = eocd - cdsize;
	if (entries > ZIP_MAX_ENTRIES)
		entries = ZIP_MAX_ENTRIES;
	off = cdoff;
	for (unsigned i = 0; i < entries; i++) {
		size_t nlen;

		if (off + CDH_LEN > eocd || read_at(fd, h, CDH_LEN, off) < 0 || le32(h) != 0x02014b50)
			return 0;   /* malformed: the names so far were harmless */
		nlen = le16(h + 28);
		if (off + CDH_LEN + nlen > eocd)
			return 0;
		/* the name fits c->buf: at most 65535 octets */
		if (read_at(fd, b, nlen, off + CDH_LEN) < 0)
			return -1;
		if (nlen > 0 && b[nlen - 1] != '/' && bad_name((const char *)b, nlen, &dbl)) {
			const char *base = (const char *)b;
			size_t blen = nlen;

			for (size_t k = 0; k < nlen; k++)
				if (b[k] == '/' || b[k] == '\\') {
					base = (const char *)b + k + 1;
					blen = nlen - k - 1;
				}
			shown(shown_zip, sizeof shown_zip, zname, strlen(zname));
			shown(shown_member, sizeof shown_member, base, blen);
			say(c, "attachment %s contains %s", shown_zip, shown_member);
			return 1;
		}
		off += CDH_LEN + nlen + le16(h + 30) + le16(h + 32);
	}
	return 0;
}

static int is_zip(const char *type, const char *subtype, const char *name)
{
	const char *ext;
	size_t elen;
	int dbl;

	if (type != NULL && subtype != NULL && strcasecmp(type, "application") == 0 &&
	    in_list(subtype, strlen(subtype), zip_type, sizeof zip_type / sizeof zip_type[0]))
		return 1;
	return name != NULL && extension(name, strlen(name), &ext, &elen, &dbl) && elen == 3 &&
	       strncasecmp(ext, "zip", 3) == 0;
}

/* A decoded part streamed through the EICAR check, no file: the
 * decoding stops at the first octet that rules it out. */
static int eicar_sink(void *ctx, const char *buf, size_t n)
{
	struct eicar *s = ctx;

	eicar_feed(s, buf, n);
	return s->bad;
}

static int each(void *ctx, const uint32_t *part, size_t depth, const char *type,
                const char *subtype, const char *filename)
{
	struct check *c = ctx;
	char pn[64], nm[NAME_SHOWN + 4];
	const char *label = filename;
	int fd, r, dbl = 0;
	uint64_t size, at = 0;
	struct eicar s;
	unsigned char buf[4096];

	part_name(pn, sizeof pn, part, depth);
	if (filename != NULL)
		shown(nm, sizeof nm, filename, strlen(filename));
	if (filename != NULL && bad_name(filename, strlen(filename), &dbl)) {
		say(c, "attachment %s: executable extension%s", nm, dbl ? " (double extension)" : "");
		return 1;
	}
	if (type != NULL && subtype != NULL && strcasecmp(type, "application") == 0 &&
	    in_list(subtype, strlen(subtype), bad_type, sizeof bad_type / sizeof bad_type[0])) {
		char ty[NAME_SHOWN + 4];

		shown(ty, sizeof ty, subtype, strlen(subtype));
		if (filename != NULL)
			say(c, "attachment %s: executable type application/%s", nm, ty);
		else
			say(c, "part %s: executable type application/%s", pn, ty);
		return 1;
	}
	if (!is_zip(type, subtype, filename)) {
		eicar_init(&s);
		r = mime_decode(c->m, part, depth, eicar_sink, &s, c->e);
		if (r == -2)
			return 0;
		if (r < 0) {
			c->failed = 1;
			return -1;
		}
		if (eicar_found(&s)) {
			say(c, "EICAR test file in part %s", pn);
			return 1;
		}
		return 0;
	}
	r = mime_binary(c->m, part, depth, &fd, &size, c->e);
	if (r == -2)
		return 0;   /* cannot be decoded: judged by name and type alone */
	if (r < 0) {
		c->failed = 1;
		return -1;
	}
	eicar_init(&s);
	while (at < size && at <= EICAR_MAX) {
		size_t want = size - at < sizeof buf ? (size_t)(size - at) : sizeof buf;

		if (read_at(fd, buf, want, at) < 0)
			goto fail;
		eicar_feed(&s, buf, want);
		at += want;
	}
	if (at == size && eicar_found(&s)) {
		close(fd);
		say(c, "EICAR test file in part %s", pn);
		return 1;
	}
	if (label == NULL)
		label = "(unnamed)";
	if ((r = zip_check(c, fd, size, label)) < 0)
		goto fail;
	close(fd);
	return r;
fail:
	close(fd);
	err_sys(c->e, EX_TEMPFAIL, "cannot read a decoded part");
	c->failed = 1;
	return -1;
}

int attach_check(struct mime_msg *m, char *why, size_t whysz, struct err *e)
{
	struct check c = { why, whysz, m, e, 0, NULL };
	int r;

	if (whysz > 0)
		why[0] = '\0';
	if ((c.buf = malloc(EOCD_SCAN)) == NULL)
		return err_sys(e, EX_TEMPFAIL, "cannot allocate memory");
	r = mime_each_part(m, each, &c);
	free(c.buf);
	if (c.failed)
		return -1;
	return r != 0;
}
