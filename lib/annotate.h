/* annotate: a message copied with header fields added and others taken
 * out, the body untouched, for mail-filter's verdicts. The fields a
 * filter owns (X-Spam-Status and the like) are removed from the top
 * header block wherever they stand, folded lines and all, so a sender
 * cannot forge a verdict; the new fields go at the end of that block.
 * Everything else passes byte for byte, line ends included (a message
 * with CR LF line ends gets CR LF in the added fields too). Memory is
 * bounded whatever the input: a header line longer than ANNOTATE_LINE_MAX,
 * or a line that is not a header field, ends the header block there. */
#ifndef ANNOTATE_H
#define ANNOTATE_H

#include <stddef.h>

#include "err.h"

#define ANNOTATE_LINE_MAX 65536

/* Copy in_fd to out_fd without the top-header fields named in drop
 * (ndrop names, any case), with add (whole "Name: value\n" lines, LF
 * ends; NULL for none) at the end of the top header block. Returns 0, or
 * -1 with e set (EX_IOERR reading, EX_TEMPFAIL writing). */
int annotate_copy(int in_fd, int out_fd, const char *const *drop, size_t ndrop,
                  const char *add, struct err *e);

#endif
