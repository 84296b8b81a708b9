/* cdb: a constant database in D. J. Bernstein's cdb format, the index
 * behind fast lookups in the users file. A lookup costs a few preads
 * whatever the size; the file is rebuilt whole (write a temporary file,
 * fsync, rename) and never changed in place, so readers need no lock. */
#ifndef CDB_H
#define CDB_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "io.h"

/* Find key in the cdb open on fd and copy its first value into data
 * (datasz bytes). Returns the value's length, which may exceed datasz (then
 * only datasz bytes were copied); -2 when the key is absent; -1 with e set
 * on a read error or a truncated file. */
long cdb_find(int fd, const void *key, size_t klen, void *data, size_t datasz,
              struct err *e);

struct cdb_record;

struct cdb_make {
	int fd;
	struct io_out *out;          /* buffered writes to fd */
	uint32_t pos;                /* where the next record goes */
	struct cdb_record *recs;     /* hash and position of each record */
	size_t n, cap;
	struct err *e;
	int failed;
};

/* Start writing a cdb to fd, which must be empty. Returns 0, or -1. */
int cdb_make_start(struct cdb_make *m, int fd, struct err *e);

/* Add a record. Errors are remembered and reported by cdb_make_finish,
 * so a loop of adds needs no checks. */
void cdb_make_add(struct cdb_make *m, const void *key, size_t klen,
                  const void *data, size_t dlen);

/* Write the hash tables and header. Does not fsync or close fd.
 * Returns 0, or -1 with the first error of the run in e. */
int cdb_make_finish(struct cdb_make *m);

#endif
