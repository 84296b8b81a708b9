/* attach: the built-in malware checks of mail-filter, without clamd:
 * the EICAR test file in any decoded part, and a policy against
 * attachments that run code on a Windows desktop when opened.
 *
 * The policy (fixed; a part matches when any rule does):
 *  - file name extension, without regard to case, after trailing dots
 *    and spaces (which Windows drops) are removed; the last extension
 *    counts, so "invoice.pdf.exe" matches (and is reported as a double
 *    extension):
 *      exe com scr pif cpl bat cmd vbs vbe js jse wsf wsh hta msi msp
 *      msc jar ps1 psm1 lnk scf reg dll sys iso img vhd vhdx appx msix
 *      application gadget
 *  - content type:
 *      application/x-msdownload application/x-dosexec
 *      application/x-ms-installer application/x-msi
 *      application/x-msdos-program application/vnd.microsoft.portable-executable
 *      application/java-archive application/hta application/x-ms-shortcut
 *  - zip archives (a name ending in .zip, or type application/zip,
 *    application/x-zip or application/x-zip-compressed): the member
 *    names in the central directory, by the extension rule (directories
 *    are skipped). Nothing is decompressed; a zip inside the zip is not
 *    opened; an archive that cannot be read (no end-of-central-directory
 *    record, offsets outside the file, ZIP64) is passed as it is. At
 *    most the first 10,000 members are read.
 * The file name is the Content-Disposition filename or the Content-Type
 * name (mime_each_part). Every leaf part is decoded once to a temporary
 * file (mime_binary); a part whose encoding is unknown is checked by
 * name and type only. */
#ifndef ATTACH_H
#define ATTACH_H

#include <stddef.h>

#include "err.h"
#include "mime.h"

/* Does message m carry the EICAR test file or a dangerous attachment?
 * Returns 1 with the first finding in why (printable ASCII, cut to
 * whysz), such as "attachment invoice.exe: executable extension",
 * "attachment a.zip contains setup.scr" or "EICAR test file in part
 * 2.1"; 0 when nothing was found; -1 with e set (EX_TEMPFAIL) when the
 * message or a temporary file cannot be read or written. m must be
 * opened without MIME_HEADER_ONLY. */
int attach_check(struct mime_msg *m, char *why, size_t whysz, struct err *e);

#endif
