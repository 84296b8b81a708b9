/* file: small file-system helpers shared by the stores. */
#ifndef FILE_H
#define FILE_H

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

#endif
