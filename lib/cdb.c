#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cdb.h"
#include "io.h"

struct cdb_record {
	uint32_t hash, pos;
};

static uint32_t cdb_hash(const unsigned char *p, size_t n)
{
	uint32_t h = 5381;

	while (n-- > 0)
		h = ((h << 5) + h) ^ *p++;
	return h;
}

static int read_at(int fd, void *buf, size_t n, uint32_t pos, struct err *e)
{
	ssize_t r;
	size_t got = 0;

	while (got < n) {
		r = pread(fd, (char *)buf + got, n - got, (off_t)pos + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_sys(e, EX_TEMPFAIL, "read index");
		if (r == 0)
			return err_set(e, EX_TEMPFAIL, "index truncated");
		got += (size_t)r;
	}
	return 0;
}

long cdb_find(int fd, const void *key, size_t klen, void *data, size_t datasz,
              struct err *e)
{
	unsigned char slot[8], rec[8], kbuf[512];
	uint32_t h = cdb_hash(key, klen), tpos, tlen, i, pos, dlen;

	if (klen > sizeof kbuf)
		return -2;   /* longer than any key the index holds */
	if (read_at(fd, slot, 8, (h & 255) * 8, e) < 0)
		return -1;
	tpos = io_get32le(slot);
	tlen = io_get32le(slot + 4);
	for (i = 0; i < tlen; i++) {
		uint32_t at = tpos + ((h >> 8) % tlen + i) % tlen * 8;

		if (read_at(fd, rec, 8, at, e) < 0)
			return -1;
		pos = io_get32le(rec + 4);
		if (pos == 0)
			return -2;
		if (io_get32le(rec) != h)
			continue;
		if (read_at(fd, rec, 8, pos, e) < 0)
			return -1;
		if (io_get32le(rec) != klen)
			continue;
		dlen = io_get32le(rec + 4);
		if (read_at(fd, kbuf, klen, pos + 8, e) < 0)
			return -1;
		if (memcmp(kbuf, key, klen) != 0)
			continue;
		if (read_at(fd, data, dlen < datasz ? dlen : datasz, pos + 8 + (uint32_t)klen, e) < 0)
			return -1;
		return (long)dlen;
	}
	return -2;
}

int cdb_make_start(struct cdb_make *m, int fd, struct err *e)
{
	unsigned char zero[2048];

	memset(m, 0, sizeof *m);
	m->fd = fd;
	m->e = e;
	m->out = malloc(sizeof *m->out);
	if (m->out == NULL)
		return err_sys(e, EX_TEMPFAIL, "index");
	io_out_init(m->out, fd);
	memset(zero, 0, sizeof zero);
	io_out_write(m->out, zero, sizeof zero);
	m->pos = sizeof zero;
	return 0;
}

static void fail(struct cdb_make *m, int code, const char *what)
{
	if (!m->failed)
		err_sys(m->e, code, "%s", what);
	m->failed = 1;
}

void cdb_make_add(struct cdb_make *m, const void *key, size_t klen,
                  const void *data, size_t dlen)
{
	unsigned char hdr[8];

	if (m->failed)
		return;
	if (klen > 512 || dlen > 65536 || m->pos > UINT32_MAX - 8 - klen - dlen - 4096) {
		errno = EFBIG;
		fail(m, EX_DATAERR, "index record");
		return;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1024;
		struct cdb_record *r = realloc(m->recs, cap * sizeof *r);

		if (r == NULL) {
			fail(m, EX_TEMPFAIL, "index");
			return;
		}
		m->recs = r;
		m->cap = cap;
	}
	io_put32le(hdr, (uint32_t)klen);
	io_put32le(hdr + 4, (uint32_t)dlen);
	io_out_write(m->out, hdr, 8);
	io_out_write(m->out, key, klen);
	io_out_write(m->out, data, dlen);
	m->recs[m->n].hash = cdb_hash(key, klen);
	m->recs[m->n].pos = m->pos;
	m->n++;
	m->pos += 8 + (uint32_t)klen + (uint32_t)dlen;
}

int cdb_make_finish(struct cdb_make *m)
{
	unsigned char header[2048], *table = NULL;
	size_t count[256] = {0}, start[256], b, i, len, maxlen = 0;
	struct cdb_record *sorted = NULL;

	if (m->failed)
		goto out;
	for (i = 0; i < m->n; i++)
		count[m->recs[i].hash & 255]++;
	for (b = 0, i = 0; b < 256; b++) {
		start[b] = i;
		i += count[b];
		if (count[b] * 2 > maxlen)
			maxlen = count[b] * 2;
	}
	sorted = malloc((m->n ? m->n : 1) * sizeof *sorted);
	table = malloc((maxlen ? maxlen : 1) * 8);
	if (sorted == NULL || table == NULL) {
		fail(m, EX_TEMPFAIL, "index");
		goto out;
	}
	{
		size_t fill[256];

		memcpy(fill, start, sizeof fill);
		for (i = 0; i < m->n; i++)
			sorted[fill[m->recs[i].hash & 255]++] = m->recs[i];
	}
	for (b = 0; b < 256; b++) {
		len = count[b] * 2;
		io_put32le(header + b * 8, m->pos);
		io_put32le(header + b * 8 + 4, (uint32_t)len);
		memset(table, 0, len * 8);
		for (i = 0; i < count[b]; i++) {
			struct cdb_record *r = &sorted[start[b] + i];
			size_t slot = (r->hash >> 8) % len;

			while (io_get32le(table + slot * 8 + 4) != 0)
				slot = (slot + 1) % len;
			io_put32le(table + slot * 8, r->hash);
			io_put32le(table + slot * 8 + 4, r->pos);
		}
		if (len * 8 > UINT32_MAX - m->pos) {
			errno = EFBIG;
			fail(m, EX_DATAERR, "index");
			goto out;
		}
		io_out_write(m->out, table, len * 8);
		m->pos += (uint32_t)(len * 8);
	}
	if (io_out_flush(m->out) < 0 ||
	    pwrite(m->fd, header, sizeof header, 0) != (ssize_t)sizeof header)
		fail(m, EX_TEMPFAIL, "write index");
out:
	free(m->out);
	m->out = NULL;
	free(sorted);
	free(table);
	free(m->recs);
	m->recs = NULL;
	return m->failed ? -1 : 0;
}
