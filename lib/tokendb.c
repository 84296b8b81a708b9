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

/* One tokendb_train call inside a batch, kept to replay after a growth. */
struct logent {
	size_t off, n;  /* its n tokens, NUL-terminated, from arena + off */
	int spam, delta;
};

struct tokendb {
	MDB_env *env;    /* NULL: a reader found no database (all counts 0) */
	MDB_dbi dbi;
	int writable;
	size_t maxkey;
	MDB_txn *batch;  /* the open batch's transaction, or NULL */
	struct logent *log;
	size_t nlog, caplog;
	char *arena;
	size_t alen, acap;
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

static uint32_t move(uint32_t v, int delta)
{
	if (delta < 0)
		return v > 0 ? v - 1 : 0;
	return v < UINT32_MAX ? v + 1 : v;
}

/* Move one key's spam or ham count by delta; delete it at 0/0. The
 * cursor is left on the key, so the write needs no second descent. */
static int bump(MDB_cursor *cur, const void *k, size_t klen, int spam, int delta)
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
	if (spam)
		c.spam = move(c.spam, delta);
	else
		c.ham = move(c.ham, delta);
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

	if ((rc = mdb_cursor_open(txn, db->dbi, &cur)) != 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = bump(cur, tok[i], strlen(tok[i]), spam, delta);
	if (rc == 0)
		rc = bump(cur, TOTALS_KEY, TOTALS_LEN, spam, delta);
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
	db->nlog = db->alen = 0;
}

void tokendb_close(struct tokendb *db)
{
	if (db == NULL)
		return;
	batch_free(db);
	if (db->env != NULL)
		mdb_env_close(db->env);
	free(db->log);
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
	}
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(ref);
	if (rc == 0)
		rc = get_counts(txn, db->dbi, TOTALS_KEY, TOTALS_LEN, totals, &found);
	if (txn != db->batch)
		mdb_txn_abort(txn);
	return rc != 0 ? lmdb_err(e, rc, "read") : 0;
}

/* Remember one batch call's distinct tokens for a replay. */
static int log_add(struct tokendb *db, char *const *tok, size_t n, int spam, int delta)
{
	size_t need = 0;

	for (size_t i = 0; i < n; i++)
		need += strlen(tok[i]) + 1;
	if (db->nlog == db->caplog) {
		size_t cap = db->caplog ? db->caplog * 2 : 64;
		struct logent *l = realloc(db->log, cap * sizeof *l);

		if (l == NULL)
			return -1;
		db->log = l;
		db->caplog = cap;
	}
	if (need > db->acap - db->alen) {
		size_t cap = db->acap ? db->acap : 65536;
		char *a;

		while (cap - db->alen < need)
			cap *= 2;
		if ((a = realloc(db->arena, cap)) == NULL)
			return -1;
		db->arena = a;
		db->acap = cap;
	}
	db->log[db->nlog++] = (struct logent){ db->alen, n, spam, delta };
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(tok[i]) + 1;

		memcpy(db->arena + db->alen, tok[i], len);
		db->alen += len;
	}
	return 0;
}

/* After MDB_MAP_FULL inside a batch: grow the map, start the batch's
 * transaction again and redo its logged calls, growing again as needed. */
static int replay(struct tokendb *db)
{
	int rc;

	for (;;) {
		mdb_txn_abort(db->batch);
		db->batch = NULL;
		if ((rc = grow(db)) != 0 || (rc = txn_begin(db, 0, &db->batch)) != 0)
			return rc;
		for (size_t i = 0; i < db->nlog && rc == 0; i++) {
			struct logent *l = &db->log[i];
			const char *p = db->arena + l->off;

			if (l->n > db->capsorted) {
				char **s = realloc(db->sorted, l->n * sizeof *s);

				if (s == NULL)
					return ENOMEM;
				db->sorted = s;
				db->capsorted = l->n;
			}
			for (size_t j = 0; j < l->n; j++) {
				db->sorted[j] = (char *)p;
				p += strlen(p) + 1;
			}
			rc = apply(db, db->batch, db->sorted, l->n, l->spam, l->delta);
		}
		if (rc != MDB_MAP_FULL)
			return rc;
	}
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
	if ((m = distinct(db, tokens, n)) == (size_t)-1)
		goto nomem;
	if (db->batch != NULL) {
		if (log_add(db, db->sorted, m, spam, delta) != 0)
			goto nomem;
		if ((rc = apply(db, db->batch, db->sorted, m, spam, delta)) == MDB_MAP_FULL)
			rc = replay(db);
		if (rc != 0) {
			batch_free(db);
			return lmdb_err(e, rc, "batch rolled back");
		}
		return 0;
	}
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
	db->nlog = db->alen = 0;
	return 0;
}

int tokendb_commit(struct tokendb *db, struct err *e)
{
	int rc;

	if (db->batch == NULL)
		return err_set(e, EX_USAGE, "token database: no batch is open");
	for (;;) {
		rc = mdb_txn_commit(db->batch);
		db->batch = NULL;
		/* the commit itself may need pages for the free list */
		if (rc != MDB_MAP_FULL || (rc = replay(db)) != 0)
			break;
	}
	batch_free(db);
	return rc != 0 ? lmdb_err(e, rc, "commit") : 0;
}

void tokendb_abort(struct tokendb *db)
{
	batch_free(db);
}
