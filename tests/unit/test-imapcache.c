/* lib/imapcache.c: values put, flushed and found again after a refresh,
 * by this session and by another; any bytes as values; records cut short
 * by a crash or still being written; a file of another UIDVALIDITY;
 * values too large to keep; the same UID twice; a missing file or
 * folder. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imapcache.h"
#include "tap.h"

static char dir[] = "/tmp/test-imapcache.XXXXXX";

/* a folder of its own for each case (8 at most) */
static const char *folder(const char *name)
{
	static char path[8][4200];
	static int n;
	char *p = path[n++ % 8];

	snprintf(p, sizeof path[0], "%s/%s", dir, name);
	if (mkdir(p, 0700) < 0)
		abort();
	return p;
}

static const char *file_of(const char *f)
{
	static char path[4300];

	snprintf(path, sizeof path, "%s/mail-cache", f);
	return path;
}

static off_t size_of(const char *f)
{
	struct stat st;

	return stat(file_of(f), &st) < 0 ? -1 : st.st_size;
}

/* the first line of the folder's cache file, or "" */
static const char *head_of(const char *f)
{
	static char line[100];
	FILE *fp = fopen(file_of(f), "r");

	line[0] = '\0';
	if (fp != NULL) {
		if (fgets(line, sizeof line, fp) == NULL)
			line[0] = '\0';
		fclose(fp);
	}
	return line;
}

/* bytes added to the file as a writer would, whole or in part */
static void append(const char *f, const char *s, size_t n)
{
	int fd = open(file_of(f), O_WRONLY | O_APPEND);

	if (fd < 0 || write(fd, s, n) != (ssize_t)n)
		abort();
	close(fd);
}

/* The bytes a writer puts in f's cache for this record, checked with
 * the file's key: made by the cache itself, then taken back out of the
 * file, so a test can add them whole or in part. */
static size_t record_of(const char *f, uint32_t validity, enum cache_kind kind, uint32_t uid,
                        const char *v, size_t n, char *out, size_t outsz)
{
	struct imapcache c;
	off_t before, after;
	int fd;

	cache_init(&c, f, validity);
	(void)cache_get(&c, kind, uid, &(size_t){ 0 });   /* the file and its key */
	before = size_of(f);
	cache_put(&c, kind, uid, v, n);
	cache_free(&c);
	after = size_of(f);
	if (before < 0 || after <= before || (size_t)(after - before) > outsz ||
	    (fd = open(file_of(f), O_RDWR)) < 0 ||
	    pread(fd, out, (size_t)(after - before), before) != after - before ||
	    ftruncate(fd, before) < 0)
		abort();
	close(fd);
	return (size_t)(after - before);
}

/* Is the first line of f's cache the header of UIDVALIDITY v? */
static int head_is(const char *f, unsigned long v)
{
	char want[40];
	const char *h = head_of(f);
	int n = snprintf(want, sizeof want, "mail-cache 2 %lu ", v);

	return strncmp(h, want, (size_t)n) == 0 && strlen(h) == (size_t)n + 17 && h[n + 16] == '\n';
}

/* Is the value of kind for uid exactly s (n bytes)? */
static int has(struct imapcache *c, enum cache_kind kind, uint32_t uid, const char *s, size_t n)
{
	size_t len = 12345;
	const char *v = cache_get(c, kind, uid, &len);

	return v != NULL && len == n && memcmp(v, s, n) == 0;
}

static int missing(struct imapcache *c, enum cache_kind kind, uint32_t uid)
{
	size_t len;

	return cache_get(c, kind, uid, &len) == NULL;
}

static void test_round_trip(void)
{
	const char *f = folder("round");
	struct imapcache a, b;
	const char *v;
	size_t len;

	cache_init(&a, f, 100);
	ok(size_of(f) == -1, "cache_init reads and writes nothing");
	ok(missing(&a, CACHE_ENVELOPE, 1), "get before any put, no file: nothing");
	ok(head_is(f, 100), "... and the file is made with its header");
	cache_put(&a, CACHE_ENVELOPE, 1, "(env one)", 9);
	cache_put(&a, CACHE_BODY, 1, "(body one)", 10);
	cache_put(&a, CACHE_BODYSTRUCTURE, 2, "(bs two)", 8);
	ok(size_of(f) == 34, "put: nothing written yet");
	ok(missing(&a, CACHE_ENVELOPE, 1), "put: not found before flush and refresh");
	cache_flush(&a);
	ok(size_of(f) > 34, "flush: written");
	ok(missing(&a, CACHE_ENVELOPE, 1), "flush: not found before a refresh");
	cache_refresh(&a);
	ok(has(&a, CACHE_ENVELOPE, 1, "(env one)", 9), "refresh: envelope 1 found");
	ok(has(&a, CACHE_BODY, 1, "(body one)", 10), "body 1 found");
	ok(has(&a, CACHE_BODYSTRUCTURE, 2, "(bs two)", 8), "bodystructure 2 found");
	ok(missing(&a, CACHE_BODYSTRUCTURE, 1) && missing(&a, CACHE_ENVELOPE, 2) &&
	   missing(&a, CACHE_BODY, 2) && missing(&a, CACHE_ENVELOPE, 0) &&
	   missing(&a, CACHE_ENVELOPE, UINT32_MAX), "kinds and UIDs are not mixed up");
	cache_flush(&a);
	cache_flush(&a);
	cache_refresh(&a);
	ok(has(&a, CACHE_ENVELOPE, 1, "(env one)", 9), "flush with nothing pending, refresh again: same");

	/* another session */
	cache_init(&b, f, 100);
	ok(has(&b, CACHE_ENVELOPE, 1, "(env one)", 9) && has(&b, CACHE_BODYSTRUCTURE, 2, "(bs two)", 8),
	   "another session finds what the first wrote");
	cache_put(&a, CACHE_ENVELOPE, 3, "(env three)", 11);
	cache_flush(&a);
	ok(missing(&b, CACHE_ENVELOPE, 3), "... a later record only after its refresh");
	cache_refresh(&b);
	ok(has(&b, CACHE_ENVELOPE, 3, "(env three)", 11), "... and after it");
	cache_put(&b, CACHE_ENVELOPE, 4, "(env four)", 10);
	cache_free(&b);
	cache_refresh(&a);
	ok(has(&a, CACHE_ENVELOPE, 4, "(env four)", 10), "cache_free flushes what is pending");

	/* the pointer stays valid until the next put */
	v = cache_get(&a, CACHE_ENVELOPE, 1, &len);
	cache_put(&a, CACHE_ENVELOPE, 5, "x", 1);
	ok(v != NULL && len == 9 && memcmp(v, "(env one)", 9) == 0, "a value survives a put");
	cache_free(&a);
	cache_free(&a);
	ok(a.fd == -1, "cache_free twice is harmless");
}

static void test_bytes(void)
{
	const char *f = folder("bytes");
	static const char nasty[] = "a\nb\0c\r\nE 9 3\nxyz\n\n";
	char big[1 << 16];
	struct imapcache a, b;

	cache_init(&a, f, 7);
	cache_put(&a, CACHE_ENVELOPE, 1, nasty, sizeof nasty - 1);
	cache_put(&a, CACHE_ENVELOPE, 2, "", 0);
	cache_put(&a, CACHE_ENVELOPE, 3, "\n", 1);
	cache_put(&a, CACHE_ENVELOPE, 4, "\0", 1);
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 7 + i / 256);
	cache_put(&a, CACHE_BODY, 5, big, sizeof big);
	cache_put(&a, CACHE_ENVELOPE, 6, "after", 5);
	cache_free(&a);
	cache_init(&b, f, 7);
	ok(has(&b, CACHE_ENVELOPE, 1, nasty, sizeof nasty - 1), "newlines, NUL and a fake record in a value");
	ok(missing(&b, CACHE_ENVELOPE, 9), "... the fake record is not taken for one");
	ok(has(&b, CACHE_ENVELOPE, 2, "", 0), "an empty value");
	ok(has(&b, CACHE_ENVELOPE, 3, "\n", 1), "a newline alone");
	ok(has(&b, CACHE_ENVELOPE, 4, "\0", 1), "a NUL alone");
	ok(has(&b, CACHE_BODY, 5, big, sizeof big), "64 KiB of every byte");
	ok(has(&b, CACHE_ENVELOPE, 6, "after", 5), "the record after them");
	cache_free(&b);
}

static void test_many(void)
{
	const char *f = folder("many");
	struct imapcache a, b;
	char v[1100];
	off_t before;
	int bad = 0;

	cache_init(&a, f, 9);
	memset(v, 'v', sizeof v);
	missing(&a, CACHE_BODY, 1);
	before = size_of(f);
	/* more than the 256 KiB kept pending: written without a flush */
	for (uint32_t uid = 1; uid <= 300; uid++)
		cache_put(&a, CACHE_BODY, uid, v, sizeof v);
	ok(size_of(f) > before, "a large batch is written before the flush");
	/* more records than the first index holds, in descending order */
	for (uint32_t uid = 3000; uid > 300; uid--) {
		char s[32];
		int n = snprintf(s, sizeof s, "e%lu", (unsigned long)uid);

		cache_put(&a, CACHE_ENVELOPE, uid, s, (size_t)n);
	}
	cache_flush(&a);
	cache_init(&b, f, 9);
	for (uint32_t uid = 1; uid <= 300; uid++)
		bad += !has(&b, CACHE_BODY, uid, v, sizeof v);
	for (uint32_t uid = 301; uid <= 3000; uid++) {
		char s[32];
		int n = snprintf(s, sizeof s, "e%lu", (unsigned long)uid);

		bad += !has(&b, CACHE_ENVELOPE, uid, s, (size_t)n);
	}
	ok(bad == 0, "3000 records, 2700 of them out of order: all found (%d not)", bad);
	/* a lookup sorts the index; records added later are found too */
	cache_put(&a, CACHE_ENVELOPE, 150, "late", 4);
	cache_put(&a, CACHE_ENVELOPE, 5000, "later", 5);
	cache_flush(&a);
	cache_refresh(&b);
	ok(has(&b, CACHE_ENVELOPE, 150, "late", 4) && has(&b, CACHE_ENVELOPE, 5000, "later", 5) &&
	   has(&b, CACHE_ENVELOPE, 301, "e301", 4), "records after a sorted index are found");
	cache_free(&a);
	cache_free(&b);
}

static void test_duplicates(void)
{
	const char *f = folder("dup");
	struct imapcache a, b;

	cache_init(&a, f, 11);
	cache_put(&a, CACHE_ENVELOPE, 7, "first", 5);
	cache_put(&a, CACHE_ENVELOPE, 8, "eight", 5);
	cache_put(&a, CACHE_ENVELOPE, 7, "again", 5);
	cache_flush(&a);
	cache_init(&b, f, 11);
	ok(has(&b, CACHE_ENVELOPE, 7, "first", 5) || has(&b, CACHE_ENVELOPE, 7, "again", 5),
	   "a UID written twice: one of its values");
	ok(has(&b, CACHE_ENVELOPE, 8, "eight", 5), "... and its neighbour unharmed");
	/* two sessions writing the same UID side by side */
	cache_put(&a, CACHE_BODY, 9, "from a", 6);
	cache_put(&b, CACHE_BODY, 9, "from b", 6);
	cache_flush(&b);
	cache_flush(&a);
	cache_refresh(&a);
	cache_refresh(&b);
	ok((has(&a, CACHE_BODY, 9, "from a", 6) || has(&a, CACHE_BODY, 9, "from b", 6)) &&
	   (has(&b, CACHE_BODY, 9, "from a", 6) || has(&b, CACHE_BODY, 9, "from b", 6)),
	   "two sessions, one UID: both see a whole value");
	cache_free(&a);
	cache_free(&b);
}

static void test_validity(void)
{
	const char *f = folder("validity");
	struct imapcache a, old, b;
	int fd;

	cache_init(&a, f, 100);
	cache_put(&a, CACHE_ENVELOPE, 1, "v100", 4);
	cache_free(&a);
	cache_init(&old, f, 100);
	ok(has(&old, CACHE_ENVELOPE, 1, "v100", 4), "UIDVALIDITY 100: found");
	cache_init(&b, f, 1000);
	ok(missing(&b, CACHE_ENVELOPE, 1), "UIDVALIDITY 1000: the old records are not used");
	ok(head_is(f, 1000), "... and the file is started afresh");
	ok(size_of(f) == 35, "... empty but for its header");
	ok(has(&old, CACHE_ENVELOPE, 1, "v100", 4), "a session with the old file keeps its copy");
	cache_put(&b, CACHE_ENVELOPE, 1, "v1000", 5);
	cache_flush(&b);
	cache_refresh(&b);
	ok(has(&b, CACHE_ENVELOPE, 1, "v1000", 5), "the new file takes records");
	cache_free(&b);
	cache_free(&old);
	/* "mail-cache 2 10" is a prefix of "mail-cache 2 100": not the same */
	cache_init(&a, f, 100);
	ok(missing(&a, CACHE_ENVELOPE, 1), "back to 100: afresh again");
	cache_free(&a);
	cache_init(&a, f, 10);
	ok(missing(&a, CACHE_ENVELOPE, 1) && head_is(f, 10),
	   "UIDVALIDITY 10 is not 100");
	cache_free(&a);

	/* a header that is not one, and an empty file */
	fd = open(file_of(f), O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, "garbage\nE 1 1\nx\n", 16) != 16)
		abort();
	close(fd);
	cache_init(&a, f, 10);
	ok(missing(&a, CACHE_ENVELOPE, 1) && head_is(f, 10),
	   "a file without the header: started afresh");
	cache_free(&a);
	fd = open(file_of(f), O_WRONLY | O_TRUNC);
	close(fd);
	cache_init(&a, f, 10);
	cache_put(&a, CACHE_ENVELOPE, 2, "two", 3);
	cache_flush(&a);
	cache_refresh(&a);
	ok(has(&a, CACHE_ENVELOPE, 2, "two", 3) && head_is(f, 10),
	   "an empty file: started afresh, then used");
	cache_free(&a);
}

static void test_torn(void)
{
	const char *f = folder("torn"), *g = folder("torn2"), *h = folder("writing");
	struct imapcache a, b, c;

	char rec[200];
	size_t n;

	cache_init(&a, f, 5);
	cache_put(&a, CACHE_ENVELOPE, 1, "one", 3);
	cache_put(&a, CACHE_ENVELOPE, 2, "two", 3);
	cache_free(&a);
	/* a writer that died halfway through its record */
	n = record_of(f, 5, CACHE_ENVELOPE, 3, "abcdefghij", 10, rec, sizeof rec);
	append(f, rec, n - 8);
	cache_init(&b, f, 5);
	ok(has(&b, CACHE_ENVELOPE, 1, "one", 3) && has(&b, CACHE_ENVELOPE, 2, "two", 3),
	   "torn last record: the records before it are found");
	ok(missing(&b, CACHE_ENVELOPE, 3), "... the torn one is not");
	/* the next session appends after the torn bytes */
	cache_put(&b, CACHE_ENVELOPE, 4, "four", 4);
	cache_flush(&b);
	cache_refresh(&b);
	ok(has(&b, CACHE_ENVELOPE, 4, "four", 4),
	   "a record appended after a torn one is found by its writer");
	cache_init(&c, f, 5);
	ok(has(&c, CACHE_ENVELOPE, 4, "four", 4),
	   "... and by a later session (not lost for the life of the file)");
	ok(has(&c, CACHE_ENVELOPE, 1, "one", 3) && missing(&c, CACHE_ENVELOPE, 3),
	   "... which still finds the records before the tear, and not the torn one");
	cache_free(&b);
	cache_free(&c);

	/* torn inside the record's header line */
	cache_init(&a, g, 5);
	cache_put(&a, CACHE_BODY, 1, "one", 3);
	cache_free(&a);
	n = record_of(g, 5, CACHE_BODY, 2, "two", 3, rec, sizeof rec);
	append(g, rec, 5);
	cache_init(&b, g, 5);
	ok(has(&b, CACHE_BODY, 1, "one", 3) && missing(&b, CACHE_BODY, 2),
	   "torn header line: the record before it found, the torn one not");
	cache_put(&b, CACHE_BODY, 3, "three", 5);
	cache_free(&b);
	cache_init(&c, g, 5);
	ok(has(&c, CACHE_BODY, 3, "three", 5), "a record appended after a torn header line is found");
	cache_free(&c);

	/* a record still being written is found once it is whole */
	char rec3[200];
	size_t n3;

	n = record_of(h, 5, CACHE_ENVELOPE, 2, "two22", 5, rec, sizeof rec);
	n3 = record_of(h, 5, CACHE_ENVELOPE, 3, "3", 1, rec3, sizeof rec3);
	cache_init(&a, h, 5);
	cache_put(&a, CACHE_ENVELOPE, 1, "one", 3);
	cache_flush(&a);
	cache_refresh(&a);
	append(h, rec, n - 5);
	cache_refresh(&a);
	ok(has(&a, CACHE_ENVELOPE, 1, "one", 3) && missing(&a, CACHE_ENVELOPE, 2),
	   "half a record: not yet");
	append(h, rec + n - 5, 5);
	append(h, rec3, n3 - 3);
	cache_refresh(&a);
	ok(has(&a, CACHE_ENVELOPE, 2, "two22", 5) && missing(&a, CACHE_ENVELOPE, 3),
	   "the rest of it: found, and the next half record not yet");
	append(h, rec3 + n3 - 3, 3);
	cache_refresh(&a);
	ok(has(&a, CACHE_ENVELOPE, 3, "3", 1) && has(&a, CACHE_ENVELOPE, 2, "two22", 5),
	   "... until it is whole too");
	cache_free(&a);
}

/* Values come from the messages: a BODYSTRUCTURE parameter can hold any
 * bytes (RFC 2231 "%0A"), so a value can look like records. Only whole
 * records may be believed, never lines inside a torn or unfinished one. */
static void test_torn_lookalikes(void)
{
	static const char fake[] = "(\"name\" {20}\r\n\nE 7 6\n(fake)\nS 9 1\n)\n)";
	const char *f = folder("lookalike"), *g = folder("landing");
	struct imapcache a, b;
	char rec[200];
	size_t n, head;

	/* a session sees a batch still being written: its last record cut
	 * in the middle of a value holding a look-alike record */
	cache_init(&a, f, 5);
	cache_put(&a, CACHE_ENVELOPE, 1, "(real)", 6);
	cache_free(&a);
	n = record_of(f, 5, CACHE_BODYSTRUCTURE, 2, fake, sizeof fake - 1, rec, sizeof rec);
	head = (size_t)(strchr(rec, '\n') - rec) + 1;
	append(f, rec, head + 28);   /* up to the look-alike's end */
	cache_init(&b, f, 5);
	ok(has(&b, CACHE_ENVELOPE, 1, "(real)", 6) && missing(&b, CACHE_ENVELOPE, 7),
	   "a look-alike record in an unfinished value: not believed");
	append(f, rec + head + 28, n - head - 28);
	cache_refresh(&b);
	ok(has(&b, CACHE_BODYSTRUCTURE, 2, fake, sizeof fake - 1),
	   "... and the value is found once it is whole");
	cache_free(&b);

	/* a torn record whose length happens to end on a later record's
	 * newline must not swallow that record */
	cache_init(&a, g, 5);
	cache_put(&a, CACHE_ENVELOPE, 1, "one", 3);
	cache_free(&a);
	n = record_of(g, 5, CACHE_ENVELOPE, 3, "abcdefgh", 8, rec, sizeof rec);
	append(g, rec, (size_t)(strchr(rec, '\n') - rec) + 3);   /* the header line and "ab" */
	cache_init(&a, g, 5);
	cache_put(&a, CACHE_ENVELOPE, 4, "x", 1);
	cache_free(&a);
	cache_init(&b, g, 5);
	ok(has(&b, CACHE_ENVELOPE, 4, "x", 1), "a record after a torn one of the wrong length: found");
	ok(missing(&b, CACHE_ENVELOPE, 3), "... and the torn one not taken whole");
	cache_free(&b);
}

static void test_limits(void)
{
	const char *f = folder("limits");
	size_t max = 1U << 20;
	char *big = malloc(max + 2);
	struct imapcache a, b;

	if (big == NULL)
		abort();
	memset(big, 'b', max + 2);
	cache_init(&a, f, 3);
	cache_put(&a, CACHE_BODYSTRUCTURE, 1, big, max);
	cache_flush(&a);
	cache_refresh(&a);
	ok(has(&a, CACHE_BODYSTRUCTURE, 1, big, max), "a value of 1 MiB is kept");
	cache_put(&a, CACHE_ENVELOPE, 2, "before", 6);
	cache_put(&a, CACHE_BODYSTRUCTURE, 3, big, max + 1);
	cache_put(&a, CACHE_ENVELOPE, 4, "after", 5);
	cache_flush(&a);
	cache_refresh(&a);
	ok(missing(&a, CACHE_BODYSTRUCTURE, 3), "a value over 1 MiB is not kept");
	ok(has(&a, CACHE_BODYSTRUCTURE, 1, big, max),
	   "... and the cache still answers in that session");
	ok(has(&a, CACHE_ENVELOPE, 2, "before", 6), "... the value put before it is kept");
	ok(has(&a, CACHE_ENVELOPE, 4, "after", 5), "... and so is the value put after it");
	cache_free(&a);
	cache_init(&b, f, 3);
	ok(has(&b, CACHE_BODYSTRUCTURE, 1, big, max) && missing(&b, CACHE_BODYSTRUCTURE, 3),
	   "another session: the 1 MiB value, not the larger one");
	cache_free(&b);
	/* a record claiming more than 1 MiB in the file is not believed */
	{
		char rec[64];
		int n = snprintf(rec, sizeof rec, "E 9 %lu 0000000000000000\n", (unsigned long)max + 1);

		append(f, rec, (size_t)n);
		append(f, big, max + 1);
		append(f, "\n", 1);
		cache_init(&b, f, 3);
		ok(missing(&b, CACHE_ENVELOPE, 9) && has(&b, CACHE_BODYSTRUCTURE, 1, big, max),
		   "a record over 1 MiB in the file: skipped, the rest found");
		cache_free(&b);
	}
	free(big);
}

static void test_no_folder(void)
{
	char path[4300];
	struct imapcache a;
	char *longdir;

	snprintf(path, sizeof path, "%s/no/such/folder", dir);
	cache_init(&a, path, 1);
	ok(missing(&a, CACHE_ENVELOPE, 1), "a folder that does not exist: nothing found");
	cache_put(&a, CACHE_ENVELOPE, 1, "x", 1);
	cache_flush(&a);
	cache_refresh(&a);
	ok(missing(&a, CACHE_ENVELOPE, 1), "... nothing kept, and no crash");
	cache_free(&a);
	if ((longdir = malloc(5000)) == NULL)
		abort();
	memset(longdir, 'd', 4999);
	longdir[4999] = '\0';
	cache_init(&a, longdir, 1);
	cache_put(&a, CACHE_ENVELOPE, 1, "x", 1);
	cache_flush(&a);
	ok(missing(&a, CACHE_ENVELOPE, 1), "a path too long for the file's name: no cache");
	cache_free(&a);
	free(longdir);
	/* refresh before anything was read */
	snprintf(path, sizeof path, "%s/round", dir);
	cache_init(&a, path, 100);
	cache_refresh(&a);
	ok(has(&a, CACHE_ENVELOPE, 1, "(env one)", 9), "refresh before the first get is harmless");
	cache_free(&a);
}

int main(void)
{
	char cmd[200];

	if (mkdtemp(dir) == NULL)
		abort();
	test_round_trip();
	test_bytes();
	test_many();
	test_duplicates();
	test_validity();
	test_torn();
	test_torn_lookalikes();
	test_limits();
	test_no_folder();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		ok(0, "remove %s", dir);
	return done_testing();
}
