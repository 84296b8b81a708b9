/* tokendb: the spam filter's token counts, in an LMDB database.
 *
 * LMDB rather than SQLite: measured 1.5-2x faster for this workload, and
 * its readers never block and are never blocked by the one writer, so
 * mail-filter keeps classifying while a training run commits.
 *
 * On-disk format (one unnamed LMDB database, default memcmp key order):
 *   key   the token's bytes, without a NUL (1 to 511 bytes: the empty token
 *         and longer ones are not stored and count as unseen);
 *   value 8 bytes: the number of spam messages, then of ham messages, that
 *         held the token, each a uint32 little-endian.
 *   The key "\0totals" (a NUL cannot occur in a token) holds, in the same
 *   8-byte form, how many messages were trained as spam and as ham.
 *   mail-filter trains each message's record with its tokens: "\1" and
 *   the SHA-256 of the message in hex, counts 1/0 or 0/1 for what it was
 *   learnt as (the tokenizer never makes a token with a \1).
 * A token whose counts both fall to 0 is deleted. The path names a file
 * (MDB_NOSUBDIR: "spam.lmdb" beside its "spam.lmdb-lock") or, when it is an
 * existing directory, LMDB's own "data.mdb" and "lock.mdb" inside it.
 *
 * LMDB allows one open environment per database file in a process (a
 * second one's close drops the first one's locks and reader slot): open a
 * database once per process, and fork before opening, not after.
 *
 * The map grows on demand (doubled on MDB_MAP_FULL, the transaction
 * retried), so a database has no fixed size limit. */
#ifndef TOKENDB_H
#define TOKENDB_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct tokendb;

struct token_counts {
	uint32_t spam, ham;
};

/* Open the database at path. writable creates it (mode 0600) when missing;
 * a reader (!writable) opens it MDB_RDONLY, works while another process
 * trains, and sees a missing database as an empty one (all counts 0).
 * Returns 0, or -1 with e set (EX_TEMPFAIL with LMDB's reason, also for a
 * file that is not an LMDB database). */
int tokendb_open(struct tokendb **db, const char *path, int writable, struct err *e);

/* Roll back an open batch (tokendb_begin) and close. NULL is a no-op. */
void tokendb_close(struct tokendb *db);

/* The counts of the n tokens into counts[0..n-1] (0 for unseen ones) and
 * the trained message totals into *totals, all from one read snapshot.
 * Inside a batch, the batch's write transaction is read and its
 * uncommitted training added. Returns 0, or -1 with e set (EX_TEMPFAIL). */
int tokendb_lookup(struct tokendb *db, char *const *tokens, size_t n,
                   struct token_counts *counts, struct token_counts *totals,
                   struct err *e);

/* Learn (delta +1) or unlearn (delta -1) one message holding the n tokens
 * as spam (spam != 0) or ham: each distinct token's count and the message
 * total move by delta, never below 0. Duplicates in tokens count once.
 * Outside a batch this is one write transaction, durable (fsync'd) when
 * it returns 0; inside a batch it is durable at tokendb_commit.
 * Returns 0, or -1 with e set (EX_TEMPFAIL; EX_USAGE on a read-only
 * database or a delta other than +1/-1); a failed message changes
 * nothing, and a failure inside a batch rolls the whole batch back. */
int tokendb_train(struct tokendb *db, char *const *tokens, size_t n, int spam,
                  int delta, struct err *e);

/* Start a batch: the tokendb_train calls up to tokendb_commit share one
 * write transaction and one fsync, so training 3,000 messages is one
 * commit, not 3,000. Other writers wait until the commit; readers see
 * the previous state until then. The batch's training is summed per
 * token in memory and written at the commit, each token once (so a
 * count moves by the batch's sum, held between 0 and UINT32_MAX: the same
 * as one message at a time unless a count is unlearnt below 0); commit
 * every few thousand messages to bound that memory. Returns 0, or -1
 * with e set (EX_USAGE when a batch is already open or the database is
 * read-only). */
int tokendb_begin(struct tokendb *db, struct err *e);

/* Commit the batch durably; a map too small for it is grown and the
 * batch written again. Returns 0, or -1 with e set (EX_TEMPFAIL): then
 * none of the batch was written. */
int tokendb_commit(struct tokendb *db, struct err *e);

/* Drop the batch's changes. */
void tokendb_abort(struct tokendb *db);

#endif
