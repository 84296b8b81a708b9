/* libFuzzer target for what mail-filter does to a message it cannot
 * trust: any bytes as the message, parsed once (lib/mime) and given to
 * the tokenizer, the rules (a header and a body rule), the built-in
 * malware checks (lib/attach) and the annotation (lib/annotate).
 * Invariants checked on every input:
 *  - none of them fails on any bytes (a read error is the only failure);
 *  - the tokens stay within TOKENS_MAX;
 *  - the annotated copy holds the added fields exactly once, with the
 *    line ends of the message.
 * Build and run with scripts/fuzz. */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "annotate.h"
#include "attach.h"
#include "mime.h"
#include "rules.h"
#include "tokens.h"

static char dir[] = "/tmp/fuzz-filter.XXXXXX";

static const char *const owned[] = { "X-Spam-Score", "X-Spam-Status", "X-Spam-Flag",
	"X-Virus-Status" };
static const char add[] = "X-Spam-Score: 0.500000\nX-Spam-Status: Unsure, score=0.500000\n"
	"X-Virus-Status: Clean\n";
static const char add_crlf[] = "X-Spam-Score: 0.500000\r\nX-Spam-Status: Unsure, "
	"score=0.500000\r\nX-Virus-Status: Clean\r\n";

/* Does s (n octets) hold text exactly once? 1 or 0; more than once aborts. */
static int once(const char *s, size_t n, const char *text)
{
	size_t len = strlen(text);
	const char *hit = memmem(s, n, text, len);

	if (hit == NULL)
		return 0;
	if (memmem(hit + 1, n - (size_t)(hit + 1 - s), text, len) != NULL)
		abort();
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static char path[4200], out[4200];
	static struct rules *r;
	struct tokens t = { 0 };
	struct mime_msg *m;
	struct err e;
	struct stat st;
	char hits[256], why[256], *copy;
	double score;
	int fd, ofd;

	if (!ready) {
		char rpath[4200];
		FILE *f;

		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path, sizeof path, "%s/msg", dir);
		snprintf(out, sizeof out, "%s/out", dir);
		snprintf(rpath, sizeof rpath, "%s/rules", dir);
		if ((f = fopen(rpath, "w")) == NULL)
			abort();
		fputs("header SUBJ Subject /free|win/i 2.5\nbody BODY /click (here|now)/i 1\n", f);
		fclose(f);
		if (rules_load(&r, rpath, &e) < 0)
			abort();
		ready = 1;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    (size > 0 && write(fd, data, size) != (ssize_t)size))
		abort();
	if ((m = mime_open(fd, 0, &e)) == NULL)
		abort();
	if (tokens_from_mime(&t, m, &e) < 0 || t.n > TOKENS_MAX)
		abort();
	tokens_free(&t);
	if (rules_check(r, m, &score, hits, sizeof hits, &e) < 0)
		abort();
	if (attach_check(m, why, sizeof why, &e) < 0)
		abort();
	mime_close(m);

	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    (ofd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0)
		abort();
	if (annotate_copy(fd, ofd, owned, sizeof owned / sizeof *owned, add, &e) < 0)
		abort();
	if (fstat(ofd, &st) < 0 || (copy = malloc((size_t)st.st_size + 1)) == NULL ||
	    pread(ofd, copy, (size_t)st.st_size, 0) != st.st_size)
		abort();
	copy[st.st_size] = '\0';
	/* the fields are added once, with LF or (a CR LF message) CR LF ends */
	if (once(copy, (size_t)st.st_size, add) + once(copy, (size_t)st.st_size, add_crlf) != 1)
		abort();
	free(copy);
	close(ofd);
	close(fd);
	return 0;
}
