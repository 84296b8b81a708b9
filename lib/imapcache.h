/* imapcache: what mail-imapd has worked out about a folder's messages
 * (ENVELOPE, BODY, BODYSTRUCTURE), kept in the file "mail-cache" in the
 * folder so later FETCHes, in this session or the next, open no message
 * file. The file is derived: deleting it loses nothing but time.
 *
 *   mail-cache 2 UIDVALIDITY KEY\n
 *   KIND UID LENGTH CHECK\n DATA \n  (KIND: E envelope, B body, S bodystructure)
 *
 * Records are only appended, whole ones in one write(2) on an O_APPEND
 * descriptor, so sessions add to it side by side without a lock; a
 * record cut short by a crash, or one whose UID is gone, is skipped. The
 * CHECK is a hash keyed by the file's random KEY: debris, and text in a
 * value that looks like records, never pass for one.
 * Readers map the file; nothing is kept in memory but an index. A file
 * of another UIDVALIDITY is started afresh. */
#ifndef IMAPCACHE_H
#define IMAPCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

enum cache_kind { CACHE_ENVELOPE, CACHE_BODY, CACHE_BODYSTRUCTURE, CACHE_KINDS };

struct cache_ent {
	uint32_t uid;
	uint32_t len;
	uint64_t off;
};

struct imapcache {
	char path[4200];
	uint32_t validity;
	int fd;                     /* O_RDWR | O_APPEND, or -1 */
	const char *map;            /* the file, mapped */
	size_t maplen;
	uint64_t scanned;           /* parsed up to here */
	struct cache_ent *e[CACHE_KINDS];
	size_t n[CACHE_KINDS], cap[CACHE_KINDS];
	int sorted[CACHE_KINDS];
	uint64_t key;               /* the file's, for the records' checks */
	int loaded, broken;
	struct strbuf pending;      /* records not yet written */
};

/* Ready c for the folder dir of UIDVALIDITY validity; nothing is read
 * until the first lookup. */
void cache_init(struct imapcache *c, const char *dir, uint32_t validity);

/* The cached value of kind for uid, or NULL (len set otherwise). The
 * pointer stays valid until the next cache_refresh or cache_free. */
const char *cache_get(struct imapcache *c, enum cache_kind kind, uint32_t uid, size_t *len);

/* Remember a value: it is written by cache_flush (or when enough is
 * pending) and found by cache_get after cache_refresh. Failures only
 * cost time later, so they are ignored. */
void cache_put(struct imapcache *c, enum cache_kind kind, uint32_t uid, const char *data, size_t len);
void cache_flush(struct imapcache *c);

/* Take in what was added to the file since it was read (by this session
 * or another); once a command, not once a message. */
void cache_refresh(struct imapcache *c);

void cache_free(struct imapcache *c);

#endif
