#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "file.h"
#include "imapbox.h"
#include "imapsearch.h"
#include "maildir.h"
#include "mutf7.h"
#include "strbuf.h"
#include "uidlist.h"

#define KEYWORDS_FILE "mail-keywords"
#define SUBSCRIPTIONS_FILE "subscriptions"
#define LIST_FILE_MAX (1UL << 20)

/* ---- names ---- */

/* The Maildir directory of IMAP name (UTF-8) under root, into dir.
 * Returns 0, or -1 with e set (EX_USAGE) for a name that cannot be a
 * folder: empty components, control characters, "/" and the like. */
static int box_dir(const char *root, const char *name, char *dir, size_t dirsz, struct err *e)
{
	char sub[NAME_MAX + 1];

	/* "/" would be a second delimiter for maildir_folder_dir */
	if (strchr(name, '/') != NULL || strlen(name) > BOX_NAME_MAX)
		return err_set(e, EX_USAGE, "bad mailbox name");
	if (maildir_folder_dir(name, sub, sizeof sub, e) < 0)
		return -1;
	if (sub[0] == '\0')
		return snprintf(dir, dirsz, "%s", root) >= (int)dirsz ?
		       err_set(e, EX_USAGE, "path too long") : 0;
	return file_join(dir, dirsz, root, sub, e);
}

static int is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/* The file name in "cur/NAME" or "new/NAME". */
static const char *file_name(const char *file)
{
	const char *slash;

	if ((file[0] == 'c' || file[0] == 'n') && file[3] == '/')
		return file + 4;
	slash = strrchr(file, '/');
	return slash ? slash + 1 : file;
}

/* Flags and keywords from a file name's ":2," info. */
static void parse_info(const char *file, unsigned *flags, uint32_t *kw)
{
	const char *info;

	*flags = 0;
	*kw = 0;
	info = strchr(file_name(file), ':');
	if (info == NULL || strncmp(info, ":2,", 3) != 0)
		return;
	for (info += 3; *info != '\0'; info++) {
		switch (*info) {
		case 'D': *flags |= IMAP_F_DRAFT; break;
		case 'F': *flags |= IMAP_F_FLAGGED; break;
		case 'R': *flags |= IMAP_F_ANSWERED; break;
		case 'S': *flags |= IMAP_F_SEEN; break;
		case 'T': *flags |= IMAP_F_DELETED; break;
		default:
			if (*info >= 'a' && *info <= 'z')
				*kw |= 1u << (*info - 'a');
		}
	}
}

/* The ":2,..." info for flags and keywords, keeping letters of file's
 * info that IMAP does not know (P, passed). */
static void make_info(char *out, size_t outsz, const char *file, unsigned flags, uint32_t kw)
{
	char letters[40];
	size_t n = 0;
	const char *old = file ? strchr(file_name(file), ':') : NULL;

	for (char c = 'A'; c <= 'Z'; c++) {
		int on;

		switch (c) {
		case 'D': on = flags & IMAP_F_DRAFT; break;
		case 'F': on = flags & IMAP_F_FLAGGED; break;
		case 'R': on = flags & IMAP_F_ANSWERED; break;
		case 'S': on = flags & IMAP_F_SEEN; break;
		case 'T': on = flags & IMAP_F_DELETED; break;
		default:
			on = old != NULL && strncmp(old, ":2,", 3) == 0 && strchr(old + 3, c) != NULL;
		}
		if (on)
			letters[n++] = c;
	}
	for (int k = 0; k < BOX_KEYWORDS_MAX; k++)
		if (kw & (1u << k))
			letters[n++] = (char)('a' + k);
	letters[n] = '\0';
	snprintf(out, outsz, "2,%s", letters);
}

/* The base name of file: after "cur/", up to ':'. */
static size_t base_of(const char *file, const char **base)
{
	*base = file_name(file);
	return strcspn(*base, ":");
}

static uint64_t name_number(const char *base, size_t len, const char *key)
{
	size_t k = strlen(key);
	const char *p = base;

	/* base is followed by the info (":2,...") or its end: no key there */
	while ((p = strstr(p, key)) != NULL && p + k < base + len) {
		if (p[k] >= '0' && p[k] <= '9')
			return strtoull(p + k, NULL, 10);
		p++;
	}
	return UINT64_MAX;
}

static void msg_from_name(struct box_msg *m, const char *file)
{
	const char *base;
	size_t len = base_of(file, &base);
	char *end;
	unsigned long long t = strtoull(base, &end, 10);

	parse_info(file, &m->flags, &m->keywords);
	m->size = name_number(base, len, ",W=");
	m->internal = end != base && *end == '.' && t < (1ULL << 40) ? (time_t)t : -1;
}

/* ---- keywords ---- */

static void keywords_free(struct box *b)
{
	for (size_t i = 0; i < BOX_KEYWORDS_MAX; i++) {
		free(b->kw[i]);
		b->kw[i] = NULL;
	}
	b->nkw = 0;
}

/* Read dir's mail-keywords ("INDEX NAME" lines) into kw. */
static int keywords_load(const char *dir, char **kw, size_t *nkw, struct err *e)
{
	char path[PATH_MAX], *data = NULL, *p, *nl;
	size_t len;

	*nkw = 0;
	if (file_join(path, sizeof path, dir, KEYWORDS_FILE, e) < 0 ||
	    file_read_all(path, LIST_FILE_MAX, &data, &len, 1, e) < 0)
		return -1;
	for (p = data; p != NULL && p < data + len; p = nl + 1) {
		char *sp;
		unsigned long i = strtoul(p, &sp, 10);

		if ((nl = memchr(p, '\n', (size_t)(data + len - p))) == NULL)
			break;
		*nl = '\0';
		if (sp == p || *sp != ' ' || i >= BOX_KEYWORDS_MAX || sp[1] == '\0' || kw[i] != NULL)
			continue;
		if ((kw[i] = strdup(sp + 1)) == NULL)
			break;
		if (i + 1 > *nkw)
			*nkw = i + 1;
	}
	free(data);
	return 0;
}

/* The index of name in dir's keywords, added when missing and there is
 * room; kw is refreshed from the file under its lock. */
static int keyword_add(const char *dir, char **kw, size_t *nkw, const char *name, struct err *e)
{
	char path[PATH_MAX];
	struct strbuf out = { 0 };
	int lock, idx = -1;

	if (file_join(path, sizeof path, dir, KEYWORDS_FILE, e) < 0 ||
	    (lock = file_lock(path, 30, e)) < 0)
		return -1;
	for (size_t i = 0; i < BOX_KEYWORDS_MAX; i++) {
		free(kw[i]);
		kw[i] = NULL;
	}
	if (keywords_load(dir, kw, nkw, e) < 0)
		goto out;
	for (size_t i = 0; i < BOX_KEYWORDS_MAX; i++)
		if (kw[i] != NULL && strcasecmp(kw[i], name) == 0) {
			idx = (int)i;
			goto out;
		}
	for (size_t i = 0; i < BOX_KEYWORDS_MAX && idx < 0; i++)
		if (kw[i] == NULL)
			idx = (int)i;
	if (idx < 0) {
		err_set(e, EX_DATAERR, "no room for another keyword");
		goto out;
	}
	if ((kw[idx] = strdup(name)) == NULL) {
		err_sys(e, EX_TEMPFAIL, "keyword");
		idx = -1;
		goto out;
	}
	if ((size_t)idx + 1 > *nkw)
		*nkw = (size_t)idx + 1;
	for (size_t i = 0; i < BOX_KEYWORDS_MAX; i++)
		if (kw[i] != NULL)
			sb_addf(&out, "%zu %s\n", i, kw[i]);
	if (out.failed) {
		err_set(e, EX_TEMPFAIL, "out of memory");
		idx = -1;
	} else if (file_replace(path, out.s, out.len, 0600, NULL, e) < 0) {
		idx = -1;
	}
out:
	sb_free(&out);
	close(lock);
	return idx;
}

int box_keyword(struct box *b, const char *name, int create, struct err *e)
{
	for (size_t i = 0; i < b->nkw; i++)
		if (b->kw[i] != NULL && strcasecmp(b->kw[i], name) == 0)
			return (int)i;
	if (!create) {
		err_set(e, EX_DATAERR, "no such keyword");
		return -1;
	}
	return keyword_add(b->dir, b->kw, &b->nkw, name, e);
}

/* ---- opening and syncing ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void stamp_of(const char *dir, const char *sub, struct timespec *ts)
{
	char path[PATH_MAX];
	struct stat st;
	struct timespec now;

	memset(ts, 0, sizeof *ts);
	if (snprintf(path, sizeof path, "%s/%s", dir, sub) >= (int)sizeof path ||
	    stat(path, &st) < 0)
		return;
	/* a change in the same clock tick as our look would go unseen:
	 * a stamp this fresh is not trusted */
	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec - st.st_mtim.tv_sec < 2)
		return;
	*ts = st.st_mtim;
}

/* Move what is in new/ to cur/: the session whose rename succeeds owns
 * the message's \Recent (RFC 9051 2.3.2). The base names taken go to
 * *taken, sorted. */
static long take_new(struct box *b, char ***taken, struct err *e)
{
	char path[PATH_MAX];
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dp;
	int moved = 0;

	*taken = NULL;
	if (snprintf(path, sizeof path, "%s/new", b->dir) >= (int)sizeof path)
		return err_set(e, EX_USAGE, "path too long");
	if ((dp = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : err_sys(e, EX_TEMPFAIL, "open %s", path);
	while ((de = readdir(dp)) != NULL) {
		char from[PATH_MAX], to[PATH_MAX];

		if (de->d_name[0] == '.' || strchr(de->d_name, ':') != NULL)
			continue;
		if (snprintf(from, sizeof from, "%s/new/%s", b->dir, de->d_name) >= (int)sizeof from ||
		    snprintf(to, sizeof to, "%s/cur/%s:2,", b->dir, de->d_name) >= (int)sizeof to)
			continue;
		if (rename(from, to) < 0)
			continue;   /* another session took it, or it went */
		moved = 1;
		if (n == cap) {
			char **p;

			cap = cap ? cap * 2 : 64;
			if ((p = realloc(v, cap * sizeof *p)) == NULL)
				break;
			v = p;
		}
		if ((v[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	closedir(dp);
	if (moved) {
		char cur[PATH_MAX];

		if (snprintf(cur, sizeof cur, "%s/cur", b->dir) >= (int)sizeof cur ||
		    file_fsync_dir(cur, e) < 0 || file_fsync_dir(path, e) < 0) {
			for (size_t i = 0; i < n; i++)
				free(v[i]);
			free(v);
			return -1;
		}
	}
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_str);
	*taken = v;
	return (long)n;
}

/* The file of message i, relative to the folder ("" for a bad index). */
static const char *box_file(const struct box *b, size_t i)
{
	const struct box_msg *m = &b->m[i];

	if (m->file != NULL)
		return m->file;
	/* the index's names end in a NUL (checked at open) */
	return b->names != NULL && m->name_off < b->names_len ? b->names + m->name_off : "";
}

/* Give message i the file name file (malloc'd). */
static void set_file(struct box *b, size_t i, char *file)
{
	if (b->m[i].file == NULL)
		b->nowned++;
	free(b->m[i].file);
	b->m[i].file = file;
}

/* Make the view an array of its own before it grows (it may be the
 * mapped index). Returns 0, or -1. */
static int own_view(struct box *b, size_t more)
{
	struct box_msg *m;

	if (!b->m_mapped)
		return (m = realloc(b->m, (b->n + more + 1) * sizeof *m)) == NULL ? -1 : (b->m = m, 0);
	if ((m = malloc((b->n + more + 1) * sizeof *m)) == NULL)
		return -1;
	if (b->n > 0)
		memcpy(m, b->m, b->n * sizeof *m);
	b->m = m;
	b->m_mapped = 0;
	return 0;
}

/* ---- the index: the folder as the last full look found it ----
 *
 * "mail-index" in the folder holds the view a full look built, with the
 * times new/ and cur/ were last changed then. When both directories are
 * unchanged since, nothing on disk can differ from it (a delivery, a flag
 * change and an expunge all change one of them), so a SELECT of 100,000
 * messages maps this one file instead of reading two directories and
 * the uid list. Binary, in this host's byte order (it never travels):
 * a header, a fixed-size record a message, and their file names. It is
 * derived: lost, torn, stale or from another host, it is ignored and
 * written anew. */

#define INDEX_FILE "mail-index"
static const char index_magic[8] = "mtidx\0\2\0";

struct index_head {
	char magic[8];
	uint32_t validity, uidnext;
	int64_t new_sec, new_nsec, cur_sec, cur_nsec;
	uint32_t count, in_new;          /* messages, and those still in new/ */
	uint32_t first_unseen, pad;
	uint64_t names_len;
};

static void index_write(const struct box *b, const struct timespec *st)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct strbuf recs = { 0 }, names = { 0 };
	struct index_head h;
	int fd;

	if (st[0].tv_sec == 0 || st[1].tv_sec == 0 ||
	    snprintf(path, sizeof path, "%s/" INDEX_FILE, b->dir) >= (int)sizeof path ||
	    snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, index_magic, sizeof h.magic);
	h.validity = b->validity;
	h.uidnext = b->uidnext;
	h.new_sec = st[0].tv_sec;
	h.new_nsec = st[0].tv_nsec;
	h.cur_sec = st[1].tv_sec;
	h.cur_nsec = st[1].tv_nsec;
	recs.max = names.max = 1UL << 30;
	for (size_t i = 0; i < b->n; i++) {
		struct box_msg r = b->m[i];
		const char *file = box_file(b, i);
		int in_new = strncmp(file, "new/", 4) == 0;

		if (r.gone)
			continue;
		if (names.len > UINT32_MAX - 4096)
			return;
		/* \Recent belongs to a session; one that opens the index
		 * read-only gives it to what is still in new/ */
		r.flags = (r.flags & ~(uint32_t)IMAP_F_RECENT) | (in_new ? IMAP_F_RECENT : 0);
		r.name_off = (uint32_t)names.len;
		r.file = NULL;
		r.gone = 0;
		r.pad = 0;
		sb_add(&recs, &r, sizeof r);
		sb_add(&names, file, strlen(file) + 1);
		h.count++;
		h.in_new += in_new;
		if (h.first_unseen == 0 && !(r.flags & IMAP_F_SEEN))
			h.first_unseen = h.count;
	}
	h.names_len = names.len;
	if (!recs.failed && !names.failed &&
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) >= 0) {
		/* no fsync: after a crash a torn index is ignored, not trusted */
		if (write(fd, &h, sizeof h) == (ssize_t)sizeof h &&
		    write(fd, recs.s ? recs.s : "", recs.len) == (ssize_t)recs.len &&
		    write(fd, names.s ? names.s : "", names.len) == (ssize_t)names.len &&
		    close(fd) == 0) {
			if (rename(tmp, path) < 0)
				unlink(tmp);
		} else {
			close(fd);
			unlink(tmp);
		}
	}
	sb_free(&recs);
	sb_free(&names);
}

/* The UIDVALIDITY the uid list has now, or 0: an index of another list
 * (lost and made again) must not be believed. */
static unsigned long list_validity(const char *dir)
{
	char path[PATH_MAX], head[64];
	unsigned long v = 0;
	ssize_t r;
	int fd;

	if (snprintf(path, sizeof path, "%s/mail-uidlist", dir) >= (int)sizeof path ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;
	r = pread(fd, head, sizeof head - 1, 0);
	close(fd);
	if (r <= 0)
		return 0;
	head[r] = '\0';
	if (sscanf(head, "mail-uidlist 1 %lu ", &v) != 1)
		return 0;
	return v;
}

/* Open b from its index when the directories are as it says, the
 * index's records serving as the view: nothing is read or copied until
 * a command looks at a message. Returns 1 when it did, 0 when a full
 * look is needed. */
static int index_load(struct box *b)
{
	char path[PATH_MAX];
	struct timespec st[2];
	struct index_head h;
	struct stat sb;
	char *map;
	int fd;

	stamp_of(b->dir, "new", &st[0]);
	stamp_of(b->dir, "cur", &st[1]);
	if (st[0].tv_sec == 0 || st[1].tv_sec == 0 ||
	    snprintf(path, sizeof path, "%s/" INDEX_FILE, b->dir) >= (int)sizeof path ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;
	if (fstat(fd, &sb) < 0 || (size_t)sb.st_size < sizeof h ||
	    pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
	    memcmp(h.magic, index_magic, sizeof h.magic) != 0 ||
	    h.new_sec != st[0].tv_sec || h.new_nsec != st[0].tv_nsec ||
	    h.cur_sec != st[1].tv_sec || h.cur_nsec != st[1].tv_nsec ||
	    h.validity == 0 || h.validity != list_validity(b->dir) ||
	    (uint64_t)sb.st_size != sizeof h + (uint64_t)h.count * sizeof *b->m + h.names_len ||
	    (h.in_new > 0 && !b->readonly) || h.count == 0) {
		/* (an empty folder is quickly read anew) */
		close(fd);
		return 0;
	}
	/* private and writable: the view changes in memory, never the file */
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return 0;
	b->names = map + sizeof h + (size_t)h.count * sizeof *b->m;
	if (h.names_len == 0 || b->names[h.names_len - 1] != '\0') {
		munmap(map, (size_t)sb.st_size);
		b->names = NULL;
		return 0;
	}
	b->m = (struct box_msg *)(void *)(map + sizeof h);
	b->m_mapped = 1;
	b->n = h.count;
	b->names_len = h.names_len;
	b->validity = h.validity;
	b->uidnext = h.uidnext;
	b->first_unseen = h.first_unseen;
	b->recent = b->readonly ? h.in_new : 0;
	b->index = map;
	b->index_len = (size_t)sb.st_size;
	b->stamp[0] = st[0];
	b->stamp[1] = st[1];
	return 1;
}

static int is_taken(char **taken, size_t n, const char *file)
{
	const char *base;
	size_t len = base_of(file, &base);
	char name[NAME_MAX + 1];

	if (n == 0 || len > NAME_MAX)
		return 0;
	memcpy(name, base, len);
	name[len] = '\0';
	const char *key = name;
	return bsearch(&key, taken, n, sizeof *taken, cmp_str) != NULL;
}

static int push_index(size_t **v, size_t *n, size_t i)
{
	size_t *p = realloc(*v, (*n + 1) * sizeof *p);

	if (p == NULL)
		return -1;
	p[(*n)++] = i;
	*v = p;
	return 0;
}

/* Read the folder again and merge what is there into the view. */
static int refresh(struct box *b, struct box_changes *c, struct err *e)
{
	struct uidlist l;
	struct timespec st[3];
	char **taken = NULL;
	long ntaken = 0;
	size_t i = 0, j = 0, n0 = b->n;
	int rc = -1;

	if (!b->readonly && (ntaken = take_new(b, &taken, e)) < 0)
		return -1;
	/* after take_new: its own moves are no change to look for again */
	stamp_of(b->dir, "new", &st[0]);
	stamp_of(b->dir, "cur", &st[1]);
	stamp_of(b->dir, KEYWORDS_FILE, &st[2]);
	if (uidlist_sync(&l, b->dir, e) < 0)
		goto out;
	if (b->validity != 0 && l.validity != b->validity) {
		/* the list was lost and made again: no UID the client holds
		 * means anything now */
		c->invalid = 1;
		rc = 0;
		goto out_list;
	}
	if (st[2].tv_sec == 0 || memcmp(&st[2], &b->stamp[2], sizeof st[2]) != 0) {
		size_t before = b->nkw;

		keywords_free(b);
		if (keywords_load(b->dir, b->kw, &b->nkw, e) < 0)
			goto out_list;
		c->keywords = b->nkw != before;
	}
	b->validity = l.validity;
	b->uidnext = l.next;
	for (i = 0; i < n0; i++) {
		struct box_msg *m = &b->m[i];

		if (m->gone)
			continue;
		while (j < l.n && l.e[j].uid < m->uid)
			j++;   /* a UID below what we know was never ours to see */
		if (j < l.n && l.e[j].uid == m->uid) {
			if (strcmp(l.e[j].file, box_file(b, i)) != 0) {
				unsigned flags, recent = m->flags & IMAP_F_RECENT;
				uint32_t kw;

				if (!recent && strncmp(box_file(b, i), "new/", 4) == 0 &&
				    is_taken(taken, (size_t)ntaken, l.e[j].file)) {
					recent = IMAP_F_RECENT;   /* listed by an index, taken now */
					b->recent++;
				}
				parse_info(l.e[j].file, &flags, &kw);
				if ((flags | recent) != m->flags || kw != m->keywords) {
					m->flags = flags | recent;
					m->keywords = kw;
					if (push_index(&c->flagged, &c->nflagged, i) < 0)
						goto oom;
				}
				set_file(b, i, l.e[j].file);
				l.e[j].file = NULL;
			}
			j++;
		} else {
			m->gone = 1;
			b->ngone++;
			if (push_index(&c->gone, &c->ngone, i) < 0)
				goto oom;
		}
	}
	/* what is left with UIDs above the view's is new */
	while (j < l.n && n0 > 0 && l.e[j].uid <= b->m[n0 - 1].uid)
		j++;
	if (l.n > j && own_view(b, l.n - j) < 0)
		goto oom;
	for (; j < l.n; j++) {
		struct box_msg *m = &b->m[b->n];

		memset(m, 0, sizeof *m);
		m->uid = l.e[j].uid;
		m->file = l.e[j].file;
		l.e[j].file = NULL;
		b->nowned++;
		msg_from_name(m, m->file);
		if (b->readonly ? strncmp(m->file, "new/", 4) == 0 :
		    is_taken(taken, (size_t)ntaken, m->file)) {
			m->flags |= IMAP_F_RECENT;
			b->recent++;
		}
		b->n++;
		c->nnew++;
	}
	memcpy(b->stamp, st, sizeof st);
	index_write(b, st);
	rc = 0;
	goto out_list;
oom:
	err_sys(e, EX_TEMPFAIL, "%s", b->dir);
out_list:
	uidlist_free(&l);
out:
	for (long k = 0; k < ntaken; k++)
		free(taken[k]);
	free(taken);
	return rc;
}

int box_open(struct box *b, const char *root, const char *name, int readonly, struct err *e)
{
	struct box_changes c = { 0 };
	char cur[PATH_MAX];
	struct stat st;
	int rc;

	memset(b, 0, sizeof *b);
	b->dirfd = -1;
	if (snprintf(b->root, sizeof b->root, "%s", root) >= (int)sizeof b->root)
		return err_set(e, EX_USAGE, "path too long");
	if (box_dir(root, name, b->dir, sizeof b->dir, e) < 0)
		return -1;
	if (snprintf(cur, sizeof cur, "%s/cur", b->dir) >= (int)sizeof cur)
		return err_set(e, EX_USAGE, "path too long");
	if (stat(cur, &st) < 0 || !S_ISDIR(st.st_mode)) {
		if (errno == ENOENT || errno == ENOTDIR || !S_ISDIR(st.st_mode))
			return err_set(e, EX_NOINPUT, "no such mailbox");
		return err_sys(e, EX_TEMPFAIL, "%s", cur);
	}
	snprintf(b->name, sizeof b->name, "%s", is_inbox(name) ? "INBOX" : name);
	b->readonly = readonly;
	b->dirfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (index_load(b)) {
		if (keywords_load(b->dir, b->kw, &b->nkw, e) < 0) {
			box_close(b);
			return -1;
		}
		stamp_of(b->dir, KEYWORDS_FILE, &b->stamp[2]);
		return 0;
	}
	rc = refresh(b, &c, e);
	box_changes_free(&c);
	if (rc < 0) {
		box_close(b);
		return -1;
	}
	for (size_t i = 0; i < b->n && b->first_unseen == 0; i++)
		if (!(b->m[i].flags & IMAP_F_SEEN))
			b->first_unseen = i + 1;
	return 0;
}

void box_close(struct box *b)
{
	/* a view mapped from the index and never changed is let go whole */
	for (size_t i = 0; i < b->n && b->nowned > 0; i++)
		if (b->m[i].file != NULL) {
			free(b->m[i].file);
			b->nowned--;
		}
	if (!b->m_mapped)
		free(b->m);
	if (b->index != NULL)
		munmap(b->index, b->index_len);
	if (b->dirfd >= 0)
		close(b->dirfd);
	keywords_free(b);
	memset(b, 0, sizeof *b);
	b->dirfd = -1;
}

int box_sync(struct box *b, struct box_changes *c, struct err *e)
{
	struct timespec st[3];

	memset(c, 0, sizeof *c);
	stamp_of(b->dir, "new", &st[0]);
	stamp_of(b->dir, "cur", &st[1]);
	stamp_of(b->dir, KEYWORDS_FILE, &st[2]);
	if (st[0].tv_sec != 0 && st[1].tv_sec != 0 &&
	    memcmp(st, b->stamp, sizeof st) == 0)
		return 0;
	return refresh(b, c, e);
}

void box_apply_expunges(struct box *b)
{
	size_t k = 0;

	if (b->ngone == 0)
		return;   /* nothing to move: the view's pages stay untouched */
	for (size_t i = 0; i < b->n; i++) {
		if (b->m[i].gone) {
			if (b->m[i].flags & IMAP_F_RECENT)
				b->recent--;
			if (b->m[i].file != NULL)
				b->nowned--;
			free(b->m[i].file);
		} else {
			b->m[k++] = b->m[i];
		}
	}
	b->n = k;
	b->ngone = 0;
}

void box_changes_free(struct box_changes *c)
{
	free(c->gone);
	free(c->flagged);
	memset(c, 0, sizeof *c);
}

/* The full path of message i; -1 when it does not fit, or when an index
 * names a file outside cur/ and new/. */
static int box_path(const struct box *b, size_t i, char *path, size_t pathsz)
{
	const char *f = box_file(b, i);

	/* "cur/NAME" or "new/NAME", whatever an index file says */
	if ((strncmp(f, "cur/", 4) != 0 && strncmp(f, "new/", 4) != 0) || strchr(f + 4, '/') != NULL)
		return -1;
	return snprintf(path, pathsz, "%s/%s", b->dir, f) >= (int)pathsz ? -1 : 0;
}

/* Find message i's file again after a rename elsewhere (flags changed by
 * another session): 0 found, 1 gone. */
static int relocate(struct box *b, size_t i, struct err *e)
{
	static const char *const subs[] = { "cur", "new" };
	const char *base;
	size_t len = base_of(box_file(b, i), &base);
	char want[NAME_MAX + 1];

	if (len > NAME_MAX)
		return 1;
	memcpy(want, base, len);
	want[len] = '\0';
	for (int s = 0; s < 2; s++) {
		char path[PATH_MAX];
		struct dirent *de;
		DIR *dp;

		if (snprintf(path, sizeof path, "%s/%s", b->dir, subs[s]) >= (int)sizeof path ||
		    (dp = opendir(path)) == NULL)
			continue;
		while ((de = readdir(dp)) != NULL) {
			if (strncmp(de->d_name, want, len) != 0 ||
			    (de->d_name[len] != '\0' && de->d_name[len] != ':'))
				continue;
			char *file = malloc(strlen(de->d_name) + 5);

			if (file == NULL) {
				closedir(dp);
				return err_sys(e, EX_TEMPFAIL, "%s", path);
			}
			snprintf(file, strlen(de->d_name) + 5, "%s/%s", subs[s], de->d_name);
			set_file(b, i, file);
			closedir(dp);
			return 0;
		}
		closedir(dp);
	}
	return 1;
}

int box_msg_open(struct box *b, size_t i, struct err *e)
{
	char path[PATH_MAX];
	int fd;

	/* relative to the folder's descriptor: no walk of the whole path
	 * for each of 100,000 messages */
	for (int tries = 0; tries < 2; tries++) {
		if (box_path(b, i, path, sizeof path) < 0)
			return err_set(e, EX_SOFTWARE, "bad file name in %s", b->dir);
		fd = b->dirfd >= 0 ? openat(b->dirfd, box_file(b, i), O_RDONLY | O_NOFOLLOW | O_CLOEXEC) :
		     open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT || tries > 0 || relocate(b, i, e) != 0)
			break;
	}
	return err_sys(e, errno == ENOENT ? EX_NOINPUT : EX_TEMPFAIL, "%s", path);
}

int box_size(struct box *b, size_t i, uint64_t *size, struct err *e)
{
	char buf[65536];
	uint64_t n = 0;
	ssize_t r;
	int fd;

	if (b->m[i].size != UINT64_MAX) {
		*size = b->m[i].size;
		return 0;
	}
	if ((fd = box_msg_open(b, i, e)) < 0)
		return -1;
	/* a name without ",W=" (another delivery agent): count LFs as CR LF */
	while ((r = read(fd, buf, sizeof buf)) > 0) {
		n += (uint64_t)r;
		for (ssize_t k = 0; k < r; k++)
			if (buf[k] == '\n' && (k == 0 || buf[k - 1] != '\r'))
				n++;
	}
	close(fd);
	if (r < 0)
		return err_sys(e, EX_TEMPFAIL, "read %s", box_file(b, i));
	b->m[i].size = *size = n;
	return 0;
}

int box_internal(struct box *b, size_t i, time_t *t, struct err *e)
{
	char path[PATH_MAX];
	struct stat st;

	if (b->m[i].internal != -1) {
		*t = b->m[i].internal;
		return 0;
	}
	if (box_path(b, i, path, sizeof path) < 0)
		return err_set(e, EX_SOFTWARE, "path too long");
	if (stat(path, &st) < 0 && (errno != ENOENT || relocate(b, i, e) != 0 ||
	                            box_path(b, i, path, sizeof path) < 0 || stat(path, &st) < 0))
		return err_sys(e, EX_NOINPUT, "%s", path);
	b->m[i].internal = *t = st.st_mtime;
	return 0;
}

int box_set_flags(struct box *b, size_t i, unsigned flags, uint32_t keywords, struct err *e)
{
	struct box_msg *m = &b->m[i];
	char info[48], from[PATH_MAX], to[PATH_MAX], *file;
	const char *base;
	size_t len;

	flags &= ~IMAP_F_RECENT;
	for (int tries = 0; tries < 2; tries++) {
		len = base_of(box_file(b, i), &base);
		make_info(info, sizeof info, box_file(b, i), flags, keywords);
		if (asprintf(&file, "cur/%.*s:%s", (int)len, base, info) < 0)
			return err_sys(e, EX_TEMPFAIL, "flags");
		if (snprintf(from, sizeof from, "%s/%s", b->dir, box_file(b, i)) >= (int)sizeof from ||
		    snprintf(to, sizeof to, "%s/%s", b->dir, file) >= (int)sizeof to) {
			free(file);
			return err_set(e, EX_SOFTWARE, "path too long");
		}
		if (strcmp(from, to) == 0 || rename(from, to) == 0) {
			set_file(b, i, file);
			m->flags = flags | (m->flags & IMAP_F_RECENT);
			m->keywords = keywords;
			return 0;
		}
		free(file);
		if (errno != ENOENT)
			return err_sys(e, EX_TEMPFAIL, "rename %s", from);
		if (tries == 0) {
			int r = relocate(b, i, e);

			if (r != 0)
				return r;
		}
	}
	return 1;
}

int box_expunge(struct box *b, const size_t *idx, size_t n, struct err *e)
{
	char path[PATH_MAX];

	for (size_t k = 0; k < n; k++) {
		size_t i = idx[k];

		if (box_path(b, i, path, sizeof path) < 0)
			return err_set(e, EX_SOFTWARE, "path too long");
		if (unlink(path) < 0) {
			if (errno != ENOENT)
				return err_sys(e, EX_TEMPFAIL, "unlink %s", path);
			if (relocate(b, i, e) == 0 && box_path(b, i, path, sizeof path) == 0 &&
			    unlink(path) < 0 && errno != ENOENT)
				return err_sys(e, EX_TEMPFAIL, "unlink %s", path);
		}
		if (!b->m[i].gone)
			b->ngone++;
		b->m[i].gone = 1;
	}
	if (n == 0)
		return 0;
	if (snprintf(path, sizeof path, "%s/cur", b->dir) >= (int)sizeof path)
		return err_set(e, EX_SOFTWARE, "path too long");
	return file_fsync_dir(path, e);
}

/* ---- copying and appending ---- */

/* Copy the file from to the new file to (created exclusively): the
 * fallback where a hard link cannot be made. */
static int copy_file(const char *from, const char *to, struct err *e)
{
	char buf[65536];
	ssize_t r;
	int in, out;

	if ((in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return err_sys(e, EX_NOINPUT, "%s", from);
	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		close(in);
		return err_sys(e, EX_TEMPFAIL, "create %s", to);
	}
	while ((r = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)r) != r) {
			r = -1;
			break;
		}
	close(in);
	if (r < 0 || fsync(out) < 0 || close(out) < 0) {
		err_sys(e, EX_TEMPFAIL, "copy to %s", to);
		unlink(to);
		return -1;
	}
	return 0;
}

/* The UIDs of base names (sorted lookups would not pay: new entries are
 * at the list's end, so look from there). */
static uint32_t find_from_end(const struct uidlist *l, const char *name)
{
	for (size_t k = l->n; k > 0; k--)
		if (strcmp(l->e[k - 1].name, name) == 0)
			return l->e[k - 1].uid;
	return 0;
}

int box_copy(struct box *b, const size_t *idx, size_t n, const char *dest, int move,
             uint32_t *uids, uint32_t *validity, struct err *e)
{
	char ddir[PATH_MAX], path[PATH_MAX], **names = NULL, *dkw[BOX_KEYWORDS_MAX] = { 0 };
	size_t ndkw = 0, done = 0;
	struct uidlist l = { 0 };
	struct stat st;
	int rc = -1;

	if (box_dir(b->root, dest, ddir, sizeof ddir, e) < 0)
		return -1;
	if (snprintf(path, sizeof path, "%s/cur", ddir) >= (int)sizeof path)
		return err_set(e, EX_USAGE, "path too long");
	if (stat(path, &st) < 0)
		return err_set(e, EX_NOINPUT, "no such mailbox");
	if ((names = calloc(n ? n : 1, sizeof *names)) == NULL)
		return err_sys(e, EX_TEMPFAIL, "copy");
	if (keywords_load(ddir, dkw, &ndkw, e) < 0)
		goto out;
	for (done = 0; done < n; done++) {
		struct box_msg *m = &b->m[idx[done]];
		char base[NAME_MAX + 1], info[48], from[PATH_MAX], to[PATH_MAX];
		uint32_t kw = 0;
		uint64_t size;
		time_t t;
		const char *ob;
		size_t olen = base_of(box_file(b, idx[done]), &ob);
		uint64_t s_size = name_number(ob, olen, ",S=");

		if (box_size(b, idx[done], &size, e) < 0 || box_internal(b, idx[done], &t, e) < 0)
			goto undo;
		for (int k = 0; k < BOX_KEYWORDS_MAX; k++) {
			int d;

			if (!(m->keywords & (1u << k)) || b->kw[k] == NULL)
				continue;
			if ((d = keyword_add(ddir, dkw, &ndkw, b->kw[k], e)) >= 0)
				kw |= 1u << d;
		}
		if (maildir_unique(base, sizeof base - 48, t, NULL, e) < 0)
			goto undo;
		if (s_size != UINT64_MAX)
			snprintf(base + strlen(base), 48, ",S=%" PRIu64 ",W=%" PRIu64, s_size, size);
		else
			snprintf(base + strlen(base), 48, ",W=%" PRIu64, size);
		make_info(info, sizeof info, box_file(b, idx[done]), m->flags, kw);
		if (box_path(b, idx[done], from, sizeof from) < 0 ||
		    snprintf(to, sizeof to, "%s/cur/%s:%s", ddir, base, info) >= (int)sizeof to) {
			err_set(e, EX_SOFTWARE, "path too long");
			goto undo;
		}
		if ((names[done] = strdup(base)) == NULL) {
			err_sys(e, EX_TEMPFAIL, "copy");
			goto undo;
		}
		/* MOVE renames, so no second copy ever exists; COPY links */
		if ((move ? rename(from, to) : link(from, to)) < 0) {
			if (errno == ENOENT && relocate(b, idx[done], e) == 0 &&
			    box_path(b, idx[done], from, sizeof from) == 0 &&
			    (move ? rename(from, to) : link(from, to)) == 0)
				goto copied;
			if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == EOPNOTSUPP) {
				if (copy_file(from, to, e) < 0)
					goto undo_one;
				if (move)
					unlink(from);
				goto copied;
			}
			err_sys(e, errno == ENOENT ? EX_NOINPUT : EX_TEMPFAIL, "copy %s", from);
undo_one:
			free(names[done]);
			names[done] = NULL;
			goto undo;
		}
copied:
		if (move && !m->gone) {
			m->gone = 1;
			b->ngone++;
		}
	}
	if (file_fsync_dir(path, e) < 0)
		goto undo;
	if (move && n > 0) {
		char cur[PATH_MAX];

		if (snprintf(cur, sizeof cur, "%s/cur", b->dir) < (int)sizeof cur)
			(void)file_fsync_dir(cur, e);
	}
	if (uidlist_sync(&l, ddir, e) < 0)
		goto out;   /* copied; the UIDs come with the next look */
	*validity = l.validity;
	for (size_t k = 0; k < n; k++)
		uids[k] = find_from_end(&l, names[k]);
	rc = 0;
	goto out;
undo:
	/* a COPY is all or nothing; a MOVE that failed half way keeps what
	 * moved (the messages exist once either way) */
	if (!move)
		for (size_t k = 0; k < done; k++) {
			char to[PATH_MAX];
			DIR *dp;
			struct dirent *de;

			if (names[k] == NULL || (dp = opendir(path)) == NULL)
				continue;
			while ((de = readdir(dp)) != NULL)
				if (strncmp(de->d_name, names[k], strlen(names[k])) == 0 &&
				    snprintf(to, sizeof to, "%s/%s", path, de->d_name) < (int)sizeof to)
					unlink(to);
			closedir(dp);
		}
out:
	for (size_t k = 0; k < n; k++)
		free(names[k]);
	free(names);
	for (size_t k = 0; k < BOX_KEYWORDS_MAX; k++)
		free(dkw[k]);
	uidlist_free(&l);
	return rc;
}

int box_append(const char *root, const char *name, int in_fd, unsigned flags,
               const char *const *keywords, size_t nkw, time_t internal,
               uint32_t *uid, uint32_t *validity, struct err *e)
{
	char dir[PATH_MAX], cur[PATH_MAX], info[48], base[NAME_MAX + 1], *kw[BOX_KEYWORDS_MAX] = { 0 };
	size_t nk = 0;
	uint32_t bits = 0;
	struct uidlist l;
	struct stat st;
	const char *slash, *p;
	struct msg_opts mo = { 0 };
	struct maildir_delivery d = {
		.root = root, .folder = is_inbox(name) ? NULL : name, .msg = &mo,
		.over_quota_code = EX_CANTCREAT, .when = internal,
	};
	int rc = -1;

	if (box_dir(root, name, dir, sizeof dir, e) < 0)
		return -1;
	if (snprintf(cur, sizeof cur, "%s/cur", dir) >= (int)sizeof cur)
		return err_set(e, EX_USAGE, "path too long");
	if (stat(cur, &st) < 0)
		return err_set(e, EX_NOINPUT, "no such mailbox");
	if (keywords_load(dir, kw, &nk, e) < 0)
		return -1;
	for (size_t k = 0; k < nkw; k++) {
		int i = keyword_add(dir, kw, &nk, keywords[k], e);

		if (i < 0)
			goto out;
		bits |= 1u << i;
	}
	make_info(info, sizeof info, NULL, flags, bits);
	d.info = info;
	if (maildir_deliver(&d, in_fd, e) < 0)
		goto out;
	slash = strrchr(d.path, '/');
	p = slash ? slash + 1 : d.path;
	snprintf(base, sizeof base, "%.*s", (int)strcspn(p, ":"), p);
	if (uidlist_sync(&l, dir, e) < 0)
		goto out;
	*validity = l.validity;
	*uid = find_from_end(&l, base);
	uidlist_free(&l);
	rc = 0;
out:
	for (size_t k = 0; k < BOX_KEYWORDS_MAX; k++)
		free(kw[k]);
	return rc;
}

int box_status(const char *root, const char *name, struct box_status *st, struct err *e)
{
	struct box b;

	/* read-only: a STATUS takes no \Recent from the sessions that select */
	if (box_open(&b, root, name, 1, e) < 0)
		return -1;
	memset(st, 0, sizeof *st);
	st->messages = (uint32_t)b.n;
	st->recent = (uint32_t)b.recent;
	st->uidnext = b.uidnext;
	st->validity = b.validity;
	for (size_t i = 0; i < b.n; i++) {
		uint64_t size;

		if (!(b.m[i].flags & IMAP_F_SEEN))
			st->unseen++;
		if (b.m[i].flags & IMAP_F_DELETED)
			st->deleted++;
		if (box_size(&b, i, &size, e) == 0)
			st->size += size;
	}
	box_close(&b);
	return 0;
}

/* ---- folders ---- */

int box_create(const char *root, const char *name, struct err *e)
{
	char dir[PATH_MAX];
	struct stat st;

	if (is_inbox(name))
		return err_set(e, EX_CANTCREAT, "INBOX exists already");
	if (box_dir(root, name, dir, sizeof dir, e) < 0)
		return -1;
	if (stat(dir, &st) == 0)
		return err_set(e, EX_CANTCREAT, "mailbox exists already");
	if (maildir_make(root, 0, e) < 0)
		return -1;
	return maildir_make(dir, 1, e);
}

/* Remove the tree at dirfd/name, never following a symbolic link. */
static int remove_tree(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dp;
	struct dirent *de;

	if (fd < 0)
		return unlinkat(dirfd, name, 0);
	if ((dp = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) < 0 && (errno == EISDIR || errno == EPERM))
			(void)remove_tree(fd, de->d_name);
	}
	closedir(dp);
	return unlinkat(dirfd, name, AT_REMOVEDIR);
}

int box_delete(const char *root, const char *name, struct err *e)
{
	char dir[PATH_MAX], trash[PATH_MAX];
	static unsigned seq;
	int fd;

	if (is_inbox(name))
		return err_set(e, EX_NOPERM, "INBOX cannot be deleted");
	if (box_dir(root, name, dir, sizeof dir, e) < 0)
		return -1;
	/* out of sight first, in one rename; "..": never listed as a folder */
	if (snprintf(trash, sizeof trash, "%s/..deleted.%ld.%ld.%u", root, (long)getpid(),
	             (long)time(NULL), ++seq) >= (int)sizeof trash)
		return err_set(e, EX_USAGE, "path too long");
	if (rename(dir, trash) < 0)
		return errno == ENOENT ? err_set(e, EX_NOINPUT, "no such mailbox") :
		       err_sys(e, EX_TEMPFAIL, "rename %s", dir);
	if ((fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)remove_tree(fd, strrchr(trash, '/') + 1);
		close(fd);
	}
	return file_fsync_dir(root, e);
}

int box_rename(const char *root, const char *from, const char *to, struct err *e)
{
	char fdir[PATH_MAX], tdir[PATH_MAX];
	const char *fsub, *tsub;
	struct stat st;
	DIR *dp;
	struct dirent *de;

	size_t flen = strlen(from);

	if (is_inbox(to))
		return err_set(e, EX_CANTCREAT, "INBOX exists already");
	if (!is_inbox(from) && strncmp(to, from, flen) == 0 && (to[flen] == '.' || to[flen] == '\0'))
		return err_set(e, EX_NOPERM, "a mailbox cannot move under itself");
	if (box_dir(root, from, fdir, sizeof fdir, e) < 0 || box_dir(root, to, tdir, sizeof tdir, e) < 0)
		return -1;
	if (stat(tdir, &st) == 0)
		return err_set(e, EX_CANTCREAT, "mailbox exists already");
	if (is_inbox(from)) {
		/* RFC 9051 6.3.6: INBOX's messages move, INBOX stays, empty */
		static const char *const subs[] = { "cur", "new" };

		char *kw = NULL, kp[PATH_MAX];
		size_t kl;

		if (box_create(root, to, e) < 0)
			return -1;
		/* the keyword letters in the names mean what INBOX's list says */
		if (file_join(kp, sizeof kp, root, KEYWORDS_FILE, e) < 0 ||
		    file_read_all(kp, LIST_FILE_MAX, &kw, &kl, 1, e) < 0)
			return -1;
		if (kw != NULL) {
			int rc = file_join(kp, sizeof kp, tdir, KEYWORDS_FILE, e) < 0 ? -1 :
			         file_replace(kp, kw, kl, 0600, NULL, e);

			free(kw);
			if (rc < 0)
				return -1;
		}
		for (int s = 0; s < 2; s++) {
			char sp[PATH_MAX], tp[PATH_MAX];

			if (snprintf(sp, sizeof sp, "%s/%s", root, subs[s]) >= (int)sizeof sp ||
			    (dp = opendir(sp)) == NULL)
				continue;
			while ((de = readdir(dp)) != NULL) {
				char a[PATH_MAX], b[PATH_MAX];

				if (de->d_name[0] == '.')
					continue;
				if (snprintf(a, sizeof a, "%s/%s", sp, de->d_name) < (int)sizeof a &&
				    snprintf(b, sizeof b, "%s/%s/%s", tdir, subs[s], de->d_name) < (int)sizeof b)
					(void)rename(a, b);
			}
			closedir(dp);
			if (snprintf(tp, sizeof tp, "%s/%s", tdir, subs[s]) < (int)sizeof tp &&
			    (file_fsync_dir(tp, e) < 0 || file_fsync_dir(sp, e) < 0))
				return -1;
		}
		return 0;
	}
	if (rename(fdir, tdir) < 0)
		return errno == ENOENT ? err_set(e, EX_NOINPUT, "no such mailbox") :
		       err_sys(e, EX_TEMPFAIL, "rename %s", fdir);
	/* the children: ".From.x" becomes ".To.x" */
	fsub = strrchr(fdir, '/') + 1;
	tsub = strrchr(tdir, '/') + 1;
	if ((dp = opendir(root)) != NULL) {
		size_t fl = strlen(fsub);

		while ((de = readdir(dp)) != NULL) {
			char a[PATH_MAX], b[PATH_MAX];

			if (strncmp(de->d_name, fsub, fl) != 0 || de->d_name[fl] != '.')
				continue;
			if (snprintf(a, sizeof a, "%s/%s", root, de->d_name) < (int)sizeof a &&
			    snprintf(b, sizeof b, "%s/%s%s", root, tsub, de->d_name + fl) < (int)sizeof b)
				(void)rename(a, b);
		}
		closedir(dp);
	}
	return file_fsync_dir(root, e);
}

int box_name_cmp(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	int xi = strcmp(x, "INBOX") == 0, yi = strcmp(y, "INBOX") == 0;

	return xi != yi ? yi - xi : strcmp(x, y);
}

static int push_name(char ***v, size_t *n, const char *s)
{
	char **p = realloc(*v, (*n + 1) * sizeof *p);

	if (p == NULL)
		return -1;
	*v = p;
	if ((p[*n] = strdup(s)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

int box_list(const char *root, char ***names, size_t *n, struct err *e)
{
	DIR *dp;
	struct dirent *de;

	*names = NULL;
	*n = 0;
	if (push_name(names, n, "INBOX") < 0)
		return err_sys(e, EX_TEMPFAIL, "list");
	if ((dp = opendir(root)) == NULL)
		return errno == ENOENT ? 0 : err_sys(e, EX_TEMPFAIL, "open %s", root);
	while ((de = readdir(dp)) != NULL) {
		char utf8[BOX_NAME_MAX + 1], cur[PATH_MAX];
		struct stat st;

		if (de->d_name[0] != '.' || de->d_name[1] == '\0' || de->d_name[1] == '.')
			continue;
		if (mutf7_decode(de->d_name + 1, utf8, sizeof utf8) < 0)
			continue;   /* not a name we would have made */
		if (snprintf(cur, sizeof cur, "%s/%s/cur", root, de->d_name) >= (int)sizeof cur ||
		    stat(cur, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (push_name(names, n, utf8) < 0) {
			closedir(dp);
			box_list_free(*names, *n);
			return err_sys(e, EX_TEMPFAIL, "list");
		}
	}
	closedir(dp);
	qsort(*names, *n, sizeof **names, box_name_cmp);
	return 0;
}

void box_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int box_subscriptions(const char *root, char ***names, size_t *n, struct err *e)
{
	char path[PATH_MAX], *data = NULL, *p, *nl;
	size_t len;

	*names = NULL;
	*n = 0;
	if (file_join(path, sizeof path, root, SUBSCRIPTIONS_FILE, e) < 0 ||
	    file_read_all(path, LIST_FILE_MAX, &data, &len, 1, e) < 0)
		return -1;
	for (p = data; p != NULL && p < data + len; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(data + len - p))) == NULL)
			break;
		*nl = '\0';
		if (*p != '\0' && push_name(names, n, p) < 0) {
			free(data);
			box_list_free(*names, *n);
			return err_sys(e, EX_TEMPFAIL, "subscriptions");
		}
	}
	free(data);
	return 0;
}

int box_subscribe(const char *root, const char *name, int on, struct err *e)
{
	char path[PATH_MAX], **v;
	size_t n;
	struct strbuf out = { 0 };
	int lock, found = 0, rc;

	char dir[PATH_MAX];

	/* only names a folder could have; any may be taken off the list */
	if (on && box_dir(root, name, dir, sizeof dir, e) < 0)
		return -1;
	if (strchr(name, '\n') != NULL)
		return err_set(e, EX_USAGE, "bad mailbox name");
	if (file_join(path, sizeof path, root, SUBSCRIPTIONS_FILE, e) < 0 ||
	    maildir_make(root, 0, e) < 0 || (lock = file_lock(path, 30, e)) < 0)
		return -1;
	if (box_subscriptions(root, &v, &n, e) < 0) {
		close(lock);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i], name) == 0) {
			found = 1;
			if (!on)
				continue;
		}
		sb_adds(&out, v[i]);
		sb_addc(&out, '\n');
	}
	if (on && !found) {
		sb_adds(&out, name);
		sb_addc(&out, '\n');
	}
	box_list_free(v, n);
	if (out.failed)
		rc = err_set(e, EX_TEMPFAIL, "out of memory");
	else if (found == on)
		rc = 0;   /* as it was */
	else
		rc = file_replace(path, out.s ? out.s : "", out.len, 0600, NULL, e);
	sb_free(&out);
	close(lock);
	return rc;
}

static const struct { const char *name, *use; } specials[] = {
	{ "Drafts", "\\Drafts" },
	{ "Sent", "\\Sent" },
	{ "Trash", "\\Trash" },
	{ "Junk", "\\Junk" },
	{ "Archive", "\\Archive" },
};

const char *box_special_use(const char *name)
{
	for (size_t i = 0; i < sizeof specials / sizeof *specials; i++)
		if (strcmp(name, specials[i].name) == 0)
			return specials[i].use;
	return NULL;
}

int box_make_specials(const char *root, struct err *e)
{
	for (size_t i = 0; i < sizeof specials / sizeof *specials; i++) {
		char dir[PATH_MAX];
		struct stat st;

		if (box_dir(root, specials[i].name, dir, sizeof dir, e) < 0)
			return -1;
		if (stat(dir, &st) == 0)
			continue;
		if (box_create(root, specials[i].name, e) < 0 ||
		    box_subscribe(root, specials[i].name, 1, e) < 0)
			return -1;
	}
	return 0;
}
