#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imapcache.h"
#include "io.h"
#include "strbuf.h"

#define VALUE_MAX (1U << 20)        /* a BODYSTRUCTURE larger than this is not kept */
#define CACHE_FILE_MAX (4ULL << 30)
#define PENDING_MAX (256U << 10)

static const char kinds[] = "EBS";

void cache_init(struct imapcache *c, const char *dir, uint32_t validity)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->validity = validity;
	if (snprintf(c->path, sizeof c->path, "%s/mail-cache", dir) >= (int)sizeof c->path)
		c->broken = 1;
}

static int add_ent(struct imapcache *c, int k, uint32_t uid, uint64_t off, uint32_t len)
{
	if (c->n[k] == c->cap[k]) {
		size_t cap = c->cap[k] ? c->cap[k] * 2 : 1024;
		struct cache_ent *p = realloc(c->e[k], cap * sizeof *p);

		if (p == NULL)
			return -1;
		c->e[k] = p;
		c->cap[k] = cap;
	}
	if (c->n[k] > 0 && c->e[k][c->n[k] - 1].uid >= uid)
		c->sorted[k] = 0;
	c->e[k][c->n[k]++] = (struct cache_ent){ uid, len, off };
	return 0;
}

/* The check on a record: a hash keyed by the file's own random key over
 * its kind, UID and value. A record cut short by a writer that died, or
 * one made up by a message (a value may hold line breaks, so text that
 * looks like records), fails it: the key is never shown to anyone. */
static uint64_t record_sum(uint64_t key, int k, uint32_t uid, const char *data, size_t len)
{
	const uint64_t mul = 0x9E3779B97F4A7C15ULL;
	uint64_t h = key ^ ((uint64_t)(unsigned)k << 32 | uid), w;
	size_t i = 0;

	h = (h ^ (h >> 31)) * mul;
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, data + i, 8);
		h = (h ^ w) * mul;
		h ^= h >> 29;
	}
	w = len;
	for (; i < len; i++)
		w = w << 8 | (unsigned char)data[i];
	h = (h ^ w) * mul;
	h ^= h >> 32;
	return h * mul ^ (h >> 29);
}

/* The record at p, whole and checked: its kind, UID and value's length,
 * and where the next one starts; NULL when p holds no such record. */
static const char *record_at(const struct imapcache *c, const char *p, const char *end, int *k,
                             uint32_t *uid, uint32_t *len)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p)), *kind;
	unsigned long long sum;
	unsigned long u, n;
	char *q;

	/* every number starts with a digit: strtoul never skips a line break */
	if (nl == NULL || *p == '\0' || (kind = strchr(kinds, *p)) == NULL || p[1] != ' ' ||
	    p[2] < '0' || p[2] > '9')
		return NULL;
	u = strtoul(p + 2, &q, 10);
	if (*q != ' ' || q[1] < '0' || q[1] > '9' || u > UINT32_MAX)
		return NULL;
	n = strtoul(q + 1, &q, 10);
	if (*q != ' ' || !isxdigit((unsigned char)q[1]))
		return NULL;
	sum = strtoull(q + 1, &q, 16);
	if (q != nl || n > VALUE_MAX || (size_t)(end - nl - 1) < n + 1 || nl[1 + n] != '\n' ||
	    sum != record_sum(c->key, (int)(kind - kinds), (uint32_t)u, nl + 1, n))
		return NULL;
	*k = (int)(kind - kinds);
	*uid = (uint32_t)u;
	*len = (uint32_t)n;
	return nl + 2 + n;
}

/* Map the file as it is now and index the records not yet seen. */
static int scan(struct imapcache *c)
{
	struct stat st;
	const char *p, *end;

	if (fstat(c->fd, &st) < 0 || (uint64_t)st.st_size > CACHE_FILE_MAX)
		return -1;
	if ((size_t)st.st_size != c->maplen) {
		if (c->map != NULL)
			munmap((void *)c->map, c->maplen);
		c->map = NULL;
		c->maplen = 0;
		if (st.st_size == 0)
			return 0;
		c->map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, c->fd, 0);
		if (c->map == MAP_FAILED) {
			c->map = NULL;
			return -1;
		}
		c->maplen = (size_t)st.st_size;
	}
	p = c->map + c->scanned;
	end = c->map + c->maplen;
	while (p < end) {
		int k;
		uint32_t uid, len;
		const char *next = record_at(c, p, end, &k, &uid, &len), *q;

		if (next == NULL) {
			/* torn: by a writer that died (later records begin on a
			 * line of their own, and the check tells them from the
			 * debris: look for one), or by one still writing
			 * (nothing whole after it: look again later) */
			for (q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
				if (record_at(c, q + 1, end, &k, &uid, &len) != NULL)
					break;
			if (q == NULL)
				break;
			p = q + 1;
			continue;
		}
		if (add_ent(c, k, uid, (uint64_t)(next - len - 1 - c->map), len) < 0)
			return -1;
		p = next;
	}
	c->scanned = (uint64_t)(p - c->map);
	return 0;
}

static int load(struct imapcache *c)
{
	char head[96], want[32], tmp[4300];
	unsigned long long key;
	ssize_t r;
	int n, used = 0, fd;

	c->loaded = 1;
	for (int k = 0; k < CACHE_KINDS; k++)
		c->sorted[k] = 1;
	c->fd = open(c->path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (c->fd < 0)
		return -1;
	r = pread(c->fd, head, sizeof head - 1, 0);
	head[r > 0 ? r : 0] = '\0';
	n = snprintf(want, sizeof want, "mail-cache 2 %lu ", (unsigned long)c->validity);
	if (strncmp(head, want, (size_t)n) == 0 && isxdigit((unsigned char)head[n]) &&
	    sscanf(head + n, "%16llx\n%n", &key, &used) == 1 && used > 0 && head[n + used - 1] == '\n') {
		c->key = key;
		c->scanned = (uint64_t)(n + used);
		return scan(c);
	}
	/* new, or of another UIDVALIDITY: start afresh, with a new key (a
	 * session with the old file mapped keeps reading its own copy) */
	if (getrandom(&c->key, sizeof c->key, 0) != (ssize_t)sizeof c->key)
		return -1;
	n = snprintf(head, sizeof head, "mail-cache 2 %lu %016llx\n", (unsigned long)c->validity,
	             (unsigned long long)c->key);
	if (snprintf(tmp, sizeof tmp, "%s.%ld", c->path, (long)getpid()) >= (int)sizeof tmp)
		return -1;
	fd = open(tmp, O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (io_write_all(fd, head, (size_t)n) < 0 || rename(tmp, c->path) < 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(c->fd);
	c->fd = fd;
	c->scanned = (uint64_t)n;
	return scan(c);
}

static int cmp_ent(const void *a, const void *b)
{
	const struct cache_ent *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

const char *cache_get(struct imapcache *c, enum cache_kind kind, uint32_t uid, size_t *len)
{
	struct cache_ent key = { .uid = uid }, *hit;

	if (c->broken)
		return NULL;
	if (!c->loaded && load(c) < 0) {
		c->broken = 1;
		return NULL;
	}
	if (!c->sorted[kind]) {
		/* stable order is not needed: any copy of a value is right */
		qsort(c->e[kind], c->n[kind], sizeof *c->e[kind], cmp_ent);
		c->sorted[kind] = 1;
	}
	hit = c->n[kind] ? bsearch(&key, c->e[kind], c->n[kind], sizeof key, cmp_ent) : NULL;
	if (hit == NULL || hit->off + hit->len > c->maplen)
		return NULL;
	*len = hit->len;
	return c->map + hit->off;
}

void cache_put(struct imapcache *c, enum cache_kind kind, uint32_t uid, const char *data, size_t len)
{
	if (len > VALUE_MAX)
		return;   /* not worth keeping: it is made again when asked */
	if (c->broken || (!c->loaded && load(c) < 0)) {
		c->broken = 1;
		return;
	}
	sb_addf(&c->pending, "%c %lu %zu %016llx\n", kinds[kind], (unsigned long)uid, len,
	        (unsigned long long)record_sum(c->key, kind, uid, data, len));
	sb_add(&c->pending, data, len);
	sb_addc(&c->pending, '\n');
	if (c->pending.len >= PENDING_MAX)
		cache_flush(c);
}

void cache_flush(struct imapcache *c)
{
	struct stat st;
	char last = '\n';

	/* whole records in one write: those of two sessions never interleave;
	 * after the debris of a writer that died, a record starts a line */
	if (!c->broken && c->pending.len > 0 && !c->pending.failed) {
		if (fstat(c->fd, &st) == 0 && st.st_size > 0 && pread(c->fd, &last, 1, st.st_size - 1) == 1 &&
		    last != '\n' && write(c->fd, "\n", 1) != 1)
			c->broken = 1;
		if (!c->broken && write(c->fd, c->pending.s, c->pending.len) != (ssize_t)c->pending.len)
			c->broken = 1;
	}
	sb_reset(&c->pending);
}

void cache_refresh(struct imapcache *c)
{
	if (c->loaded && !c->broken && scan(c) < 0)
		c->broken = 1;
}

void cache_free(struct imapcache *c)
{
	cache_flush(c);
	sb_free(&c->pending);
	if (c->map != NULL)
		munmap((void *)c->map, c->maplen);
	if (c->fd >= 0)
		close(c->fd);
	for (int k = 0; k < CACHE_KINDS; k++)
		free(c->e[k]);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}
