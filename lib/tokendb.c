/* tokendb: token counts over LMDB; the format is in tokendb.h. */
#include "config.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "io.h"
#include "tokendb.h"

#define TOTALS_KEY "\0totals"
#define TOTALS_LEN 7
/* First map size of a new database; doubled whenever it fills. Small so a
 * small database costs little address space; growth is cheap. */
#define MAP_INITIAL ((size_t)4 << 20)

/* One token's change in the open batch. */
struct pend {
	size_t off;      /* its text, NUL-terminated, at arena + off - 1; 0: empty slot */
	int64_t ds, dh;  /* what the batch adds to its spam and ham counts */
	uint64_t call;   /* the last tokendb_train call that moved it */
	uint64_t hash;   /* of its text */
};

struct tokendb {
	MDB_env *env;    /* NULL: a reader found no database (all counts 0) */
	MDB_dbi dbi;
	int writable;
	size_t maxkey;
	MDB_txn *batch;  /* the open batch's transaction, or NULL */
	/* the batch's changes, summed per token and written at the commit:
	 * open addressing over pend, texts in arena */
	struct pend *pend;
	size_t npend, cappend;
	char *arena;
	size_t alen, acap;
	int64_t tot_ds, tot_dh;
	uint64_t calls;  /* tokendb_train calls in the batch */
	char **sorted;   /* scratch: a message's distinct tokens, in key order */
	size_t capsorted;
};

static int lmdb_err(struct err *e, int rc, const char *what)
{
	return err_set(e, EX_TEMPFAIL, "token database: %s: %s", what, mdb_strerror(rc));
}

/* Read the counts under key into *c (0 when absent). Returns an LMDB code;
 * a value of the wrong size is MDB_CORRUPTED. */
static int get_counts(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen,
                      struct token_counts *c, int *found)
{
	MDB_val key = { klen, (void *)k }, val;
	int rc;

	c->spam = c->ham = 0;
	*found = 0;
	rc = mdb_get(txn, dbi, &key, &val);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (val.mv_size != 8)
		return MDB_CORRUPTED;
	c->spam = io_get32le(val.mv_data);
	c->ham = io_get32le((const unsigned char *)val.mv_data + 4);
	*found = 1;
	return 0;
}

/* v moved by delta, never below 0 nor above UINT32_MAX. */
static uint32_t move(uint32_t v, int64_t delta)
{
	int64_t r = (int64_t)v + delta;

	return r < 0 ? 0 : r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
}

/* Move one key's counts by ds and dh; delete it at 0/0. The cursor is
 * left on the key, so the write needs no second descent. */
static int bump(MDB_cursor *cur, const void *k, size_t klen, int64_t ds, int64_t dh)
{
	struct token_counts c = { 0, 0 };
	unsigned char buf[8];
	MDB_val key = { klen, (void *)k }, val;
	int found, rc;

	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	found = rc == 0;
	if (found) {
		if (val.mv_size != 8)
			return MDB_CORRUPTED;
		c.spam = io_get32le(val.mv_data);
		c.ham = io_get32le((const unsigned char *)val.mv_data + 4);
	}
	c.spam = move(c.spam, ds);
	c.ham = move(c.ham, dh);
	if (c.spam == 0 && c.ham == 0)
		return found ? mdb_cursor_del(cur, 0) : 0;
	io_put32le(buf, c.spam);
	io_put32le(buf + 4, c.ham);
	key.mv_size = klen;
	key.mv_data = (void *)k;
	val.mv_size = sizeof buf;
	val.mv_data = buf;
	return mdb_cursor_put(cur, &key, &val, found ? MDB_CURRENT : 0);
}

/* One message's training, tokens already distinct and in key order (the
 * B-tree is then walked once, left to right). */
static int apply(struct tokendb *db, MDB_txn *txn, char *const *tok, size_t n,
                 int spam, int delta)
{
	MDB_cursor *cur;
	int rc = 0;

	int64_t ds = spam ? delta : 0, dh = spam ? 0 : delta;

	if ((rc = mdb_cursor_open(txn, db->dbi, &cur)) != 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = bump(cur, tok[i], strlen(tok[i]), ds, dh);
	if (rc == 0)
		rc = bump(cur, TOTALS_KEY, TOTALS_LEN, ds, dh);
	mdb_cursor_close(cur);
	return rc;
}

/* Begin a transaction, adopting a map another process grew. */
static int txn_begin(struct tokendb *db, unsigned flags, MDB_txn **txn)
{
	int rc;

	while ((rc = mdb_txn_begin(db->env, NULL, flags, txn)) == MDB_MAP_RESIZED)
		if ((rc = mdb_env_set_mapsize(db->env, 0)) != 0)
			return rc;
	return rc;
}

/* Double the map; no transaction of ours may be open. */
static int grow(struct tokendb *db)
{
	MDB_envinfo info;
	int rc;

	if ((rc = mdb_env_info(db->env, &info)) != 0)
		return rc;
	if (info.me_mapsize > SIZE_MAX / 2)
		return MDB_MAP_FULL;
	return mdb_env_set_mapsize(db->env, info.me_mapsize * 2);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The message's distinct storable tokens, in key order, into db->sorted.
 * Returns their number, or (size_t)-1 when out of memory. */
static size_t distinct(struct tokendb *db, char *const *tokens, size_t n)
{
	size_t m = 0, k = 0;

	if (n > db->capsorted) {
		char **p = realloc(db->sorted, n * sizeof *p);

		if (p == NULL)
			return (size_t)-1;
		db->sorted = p;
		db->capsorted = n;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(tokens[i]);

		if (len > 0 && len <= db->maxkey)
			db->sorted[m++] = tokens[i];
	}
	if (m == 0)
		return 0;
	qsort(db->sorted, m, sizeof *db->sorted, cmp_str);
	for (size_t i = 1; i < m; i++)
		if (strcmp(db->sorted[i], db->sorted[k]) != 0)
			db->sorted[++k] = db->sorted[i];
	return k + 1;
}

int tokendb_open(struct tokendb **dbp, const char *path, int writable, struct err *e)
{
	struct tokendb *db;
	struct stat st;
	unsigned flags = MDB_NOSUBDIR;
	MDB_txn *txn;
	int rc;

	*dbp = NULL;
	if ((db = calloc(1, sizeof *db)) == NULL)
		return err_sys(e, EX_TEMPFAIL, "token database: out of memory");
	db->writable = writable;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			flags = 0;
	} else if (!writable && errno == ENOENT) {
		*dbp = db;  /* nothing trained yet */
		return 0;
	}
	if (!writable)
		flags |= MDB_RDONLY;
	if ((rc = mdb_env_create(&db->env)) != 0) {
		free(db);
		return lmdb_err(e, rc, "mdb_env_create");
	}
	db->maxkey = (size_t)mdb_env_get_maxkeysize(db->env);
	/* a bigger existing file sets its own size as it opens */
	if (writable && (rc = mdb_env_set_mapsize(db->env, MAP_INITIAL)) != 0)
		goto fail;
	if ((rc = mdb_env_open(db->env, path, flags, 0600)) != 0) {
		if (!writable && rc == ENOENT) {
			/* created by a writer but not yet initialised */
			mdb_env_close(db->env);
			db->env = NULL;
			*dbp = db;
			return 0;
		}
		err_set(e, EX_TEMPFAIL, "token database: %s: %s", path, mdb_strerror(rc));
		mdb_env_close(db->env);
		free(db);
		return -1;
	}
	if ((rc = txn_begin(db, writable ? 0 : MDB_RDONLY, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &db->dbi)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	*dbp = db;
	return 0;
fail:
	err_set(e, EX_TEMPFAIL, "token database: %s: %s", path, mdb_strerror(rc));
	mdb_env_close(db->env);
	free(db);
	return -1;
}

static void batch_free(struct tokendb *db)
{
	if (db->batch != NULL)
		mdb_txn_abort(db->batch);
	db->batch = NULL;
	free(db->pend);
	db->pend = NULL;
	db->npend = db->cappend = 0;
	db->alen = 0;
	db->tot_ds = db->tot_dh = 0;
}

/* ---- the batch's changes ---- */

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL;   /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* The slot of token tok (n octets, hash h): its entry, or the empty slot where
 * it would go. */
static struct pend *pend_slot(struct tokendb *db, const char *tok, size_t n, uint64_t h)
{
	size_t mask = db->cappend - 1, i = (size_t)h & mask;

	while (db->pend[i].off != 0) {
		const char *t = db->arena + db->pend[i].off - 1;

		if (db->pend[i].hash == h && memcmp(t, tok, n) == 0 && t[n] == '\0')
			break;
		i = (i + 1) & mask;
	}
	return &db->pend[i];
}

/* The entry of tok, made when missing; NULL when out of memory. */
static struct pend *pend_get(struct tokendb *db, const char *tok, size_t n)
{
	struct pend *p;
	uint64_t h;

	if (2 * (db->npend + 1) > db->cappend) {   /* at most half full */
		size_t cap = db->cappend ? db->cappend * 2 : 4096;
		struct pend *old = db->pend, *np = calloc(cap, sizeof *np);
		size_t oldcap = db->cappend;

		if (np == NULL)
			return NULL;
		db->pend = np;
		db->cappend = cap;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].off != 0) {
				size_t mask = cap - 1, k = (size_t)old[i].hash & mask;

				while (np[k].off != 0)
					k = (k + 1) & mask;
				np[k] = old[i];
			}
		free(old);
	}
	h = hash(tok, n);
	p = pend_slot(db, tok, n, h);
	if (p->off == 0) {
		if (n + 1 > db->acap - db->alen) {
			size_t cap = db->acap ? db->acap : 65536;
			char *a;

			while (cap - db->alen < n + 1)
				cap *= 2;
			if ((a = realloc(db->arena, cap)) == NULL)
				return NULL;
			db->arena = a;
			db->acap = cap;
		}
		memcpy(db->arena + db->alen, tok, n);
		db->arena[db->alen + n] = '\0';
		p->off = db->alen + 1;
		p->ds = p->dh = 0;
		p->call = 0;
		p->hash = h;
		db->alen += n + 1;
		db->npend++;
	}
	return p;
}

static int cmp_pend(const void *a, const void *b, void *arena)
{
	const struct pend *x = a, *y = b;

	return strcmp((const char *)arena + x->off - 1, (const char *)arena + y->off - 1);
}

/* Write the batch's changes into txn, in key order; the pend table is
 * compacted and sorted on the first call (its slots are not used again). */
static int pend_apply(struct tokendb *db, MDB_txn *txn, int *sorted)
{
	MDB_cursor *cur;
	int rc;

	if (!*sorted) {
		size_t k = 0;

		for (size_t i = 0; i < db->cappend; i++)
			if (db->pend[i].off != 0)
				db->pend[k++] = db->pend[i];
		if (k > 1)
			qsort_r(db->pend, k, sizeof *db->pend, cmp_pend, db->arena);
		*sorted = 1;
	}
	if ((rc = mdb_cursor_open(txn, db->dbi, &cur)) != 0)
		return rc;
	for (size_t i = 0; i < db->npend && rc == 0; i++) {
		const char *t = db->arena + db->pend[i].off - 1;

		if (db->pend[i].ds != 0 || db->pend[i].dh != 0)
			rc = bump(cur, t, strlen(t), db->pend[i].ds, db->pend[i].dh);
	}
	if (rc == 0 && (db->tot_ds != 0 || db->tot_dh != 0))
		rc = bump(cur, TOTALS_KEY, TOTALS_LEN, db->tot_ds, db->tot_dh);
	mdb_cursor_close(cur);
	return rc;
}

void tokendb_close(struct tokendb *db)
{
	if (db == NULL)
		return;
	batch_free(db);
	if (db->env != NULL)
		mdb_env_close(db->env);
	free(db->arena);
	free(db->sorted);
	free(db);
}

static int cmp_ref(const void *a, const void *b)
{
	return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

int tokendb_lookup(struct tokendb *db, char *const *tokens, size_t n,
                   struct token_counts *counts, struct token_counts *totals,
                   struct err *e)
{
	MDB_txn *txn = db->batch;
	MDB_cursor *cur = NULL;
	char *const **ref = NULL;
	int found, rc = 0;

	if (n > 0)
		memset(counts, 0, n * sizeof *counts);
	totals->spam = totals->ham = 0;
	if (db->env == NULL)
		return 0;
	/* in key order through one cursor: LMDB then finds most keys on the
	 * page it is on, without a descent from the root */
	if (n > 0 && (ref = malloc(n * sizeof *ref)) == NULL)
		return err_set(e, EX_TEMPFAIL, "token database: out of memory");
	for (size_t i = 0; i < n; i++)
		ref[i] = &tokens[i];
	if (n > 1)
		qsort(ref, n, sizeof *ref, cmp_ref);
	if (txn == NULL && (rc = txn_begin(db, MDB_RDONLY, &txn)) != 0) {
		free(ref);
		return lmdb_err(e, rc, "read");
	}
	rc = mdb_cursor_open(txn, db->dbi, &cur);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *tok = *ref[i];
		size_t len = strlen(tok);
		MDB_val key = { len, (void *)tok }, val;
		struct token_counts *c = &counts[ref[i] - tokens];

		if (len == 0 || len > db->maxkey)
			continue;
		rc = mdb_cursor_get(cur, &key, &val, MDB_SET);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
		} else if (rc == 0 && val.mv_size != 8) {
			rc = MDB_CORRUPTED;
		} else if (rc == 0) {
			c->spam = io_get32le(val.mv_data);
			c->ham = io_get32le((const unsigned char *)val.mv_data + 4);
		}
		if (rc == 0 && db->npend > 0) {   /* the batch's training so far */
			struct pend *p = pend_slot(db, tok, len, hash(tok, len));

			if (p->off != 0) {
				c->spam = move(c->spam, p->ds);
				c->ham = move(c->ham, p->dh);
			}
		}
	}
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(ref);
	if (rc == 0)
		rc = get_counts(txn, db->dbi, TOTALS_KEY, TOTALS_LEN, totals, &found);
	if (rc == 0 && db->batch != NULL) {
		totals->spam = move(totals->spam, db->tot_ds);
		totals->ham = move(totals->ham, db->tot_dh);
	}
	if (txn != db->batch)
		mdb_txn_abort(txn);
	return rc != 0 ? lmdb_err(e, rc, "read") : 0;
}

int tokendb_train(struct tokendb *db, char *const *tokens, size_t n, int spam,
                  int delta, struct err *e)
{
	MDB_txn *txn;
	size_t m;
	int rc;

	if (!db->writable)
		return err_set(e, EX_USAGE, "token database: opened read-only");
	if (delta != 1 && delta != -1)
		return err_set(e, EX_USAGE, "token database: delta %d is not +1 or -1", delta);
	spam = spam != 0;
	if (db->batch != NULL) {
		/* summed in memory, written at the commit: a token common to
		 * 3,000 messages is one write, not 3,000 */
		db->calls++;
		for (size_t i = 0; i < n; i++) {
			size_t len = strlen(tokens[i]);
			struct pend *p;

			if (len == 0 || len > db->maxkey)
				continue;
			if ((p = pend_get(db, tokens[i], len)) == NULL)
				goto nomem;
			if (p->call != db->calls)   /* a duplicate counts once */
				*(spam ? &p->ds : &p->dh) += delta;
			p->call = db->calls;
		}
		*(spam ? &db->tot_ds : &db->tot_dh) += delta;
		return 0;
	}
	if ((m = distinct(db, tokens, n)) == (size_t)-1)
		goto nomem;
	for (;;) {
		if ((rc = txn_begin(db, 0, &txn)) != 0)
			break;
		if ((rc = apply(db, txn, db->sorted, m, spam, delta)) != 0)
			mdb_txn_abort(txn);
		else
			rc = mdb_txn_commit(txn);
		if (rc != MDB_MAP_FULL || (rc = grow(db)) != 0)
			break;
	}
	return rc != 0 ? lmdb_err(e, rc, "write") : 0;
nomem:
	if (db->batch != NULL)
		batch_free(db);
	return err_set(e, EX_TEMPFAIL, "token database: out of memory");
}

int tokendb_begin(struct tokendb *db, struct err *e)
{
	int rc;

	if (!db->writable)
		return err_set(e, EX_USAGE, "token database: opened read-only");
	if (db->batch != NULL)
		return err_set(e, EX_USAGE, "token database: a batch is already open");
	if ((rc = txn_begin(db, 0, &db->batch)) != 0)
		return lmdb_err(e, rc, "begin");
	return 0;
}

int tokendb_commit(struct tokendb *db, struct err *e)
{
	int rc, sorted = 0;

	if (db->batch == NULL)
		return err_set(e, EX_USAGE, "token database: no batch is open");
	for (;;) {
		if ((rc = pend_apply(db, db->batch, &sorted)) == 0)
			rc = mdb_txn_commit(db->batch);
		else
			mdb_txn_abort(db->batch);
		db->batch = NULL;
		/* full (the commit itself may need pages for its free list):
		 * a bigger map, and the changes written again */
		if (rc != MDB_MAP_FULL || (rc = grow(db)) != 0 ||
		    (rc = txn_begin(db, 0, &db->batch)) != 0)
			break;
	}
	batch_free(db);
	return rc != 0 ? lmdb_err(e, rc, "commit") : 0;
}

void tokendb_abort(struct tokendb *db)
{
	batch_free(db);
}
