/* file: small file-system helpers shared by the stores. */
#ifndef FILE_H
#define FILE_H

#include <sys/stat.h>
#include <sys/types.h>

#include "err.h"

/* fsync the directory at path so a rename or link inside it is durable.
 * Returns 0, or -1 with e set (EX_TEMPFAIL). */
int file_fsync_dir(const char *path, struct err *e);

/* The directory holding path's last component ("." when path has no '/')
 * into out. Returns 0, or -1 with e set (EX_USAGE) when it does not fit. */
int file_dirname(const char *path, char *out, size_t outsz, struct err *e);

/* fsync the directory holding path (its last component's entry).
 * Returns 0, or -1 with e set (EX_TEMPFAIL). */
int file_fsync_parent(const char *path, struct err *e);

/* mkdir path and any missing parents with mode, fsyncing the directory
 * that holds each one made so it survives a crash. Returns 0 (also when
 * it already exists as a directory), or -1 with e set. */
int file_mkdirs(const char *path, mode_t mode, struct err *e);

/* Build "a/b" into out; returns 0, or -1 with e set (EX_USAGE) when the
 * result would not fit: a path is never silently cut. */
int file_join(char *out, size_t outsz, const char *a, const char *b, struct err *e);

/* Take an exclusive fcntl lock on "path.lock" (created 0600 when missing),
 * waiting up to timeout seconds, so edits of path by concurrent processes
 * serialise. fcntl rather than flock: it also works over NFS. Returns the
 * lock's descriptor (close it to unlock), or -1 with e set (EX_TEMPFAIL on
 * timeout). */
int file_lock(const char *path, unsigned timeout, struct err *e);

/* Replace the file at path with the n bytes of data atomically: write
 * "path.tmp.PID", fsync, give it the owner and mode of the file it
 * replaces (mode for a new file), rename over path, fsync the directory.
 * The caller holds file_lock(path). When st is not NULL it receives the
 * new file's stat, taken after the rename.
 * Returns 0, or -1 with e set: path is unchanged when the failure came
 * before the rename, and holds the new data (not known to be durable)
 * when it came after it (stat, close, the directory's fsync). */
int file_replace(const char *path, const void *data, size_t n, mode_t mode,
                 struct stat *st, struct err *e);

/* Read the whole file at path, at most max bytes, into *data (malloc'd;
 * NULL when missing_ok let a missing file pass) and *len.
 * Returns 0, or -1 with e set (EX_TEMPFAIL, EFBIG when over max). */
int file_read_all(const char *path, size_t max, char **data, size_t *len,
                  int missing_ok, struct err *e);

/* An unlinked scratch file, read-write and close-on-exec, in dir (NULL:
 * $TMPDIR, else /tmp): O_TMPFILE, else a name made and removed at once.
 * Returns its descriptor, or -1 with e set (EX_TEMPFAIL). */
int file_scratch(const char *dir, struct err *e);

#endif
