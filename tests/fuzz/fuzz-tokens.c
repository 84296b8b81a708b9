/* libFuzzer target for lib/tokens.c: any bytes as a message (one that
 * starts with '<' gets a text/html header, so the HTML scanner is
 * reached at once), and as text given to the tokenizer directly. Invariants checked on every input:
 *  - tokens_from_message succeeds on any bytes;
 *  - the set never holds more than TOKENS_MAX tokens, each unique, NUL
 *    free, valid UTF-8, a word of at most TOKENS_WORD_MAX octets after
 *    its prefix or a url: token.
 * Build and run with scripts/fuzz. */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "tokens.h"

static char dir[] = "/tmp/fuzz-tokens.XXXXXX";

static int check(void *ctx, const char *tok)
{
	const struct tokens *t = ctx;
	const char *colon = strchr(tok, ':');
	size_t n = strlen(tok);

	if (n == 0 || !g_utf8_validate(tok, -1, NULL) || !tokens_has(t, tok))
		abort();
	if (strncmp(tok, "url:", 4) == 0)
		return 0;
	/* a header token: name ':' word; a body word may hold no ':' */
	if (colon != NULL)
		n -= (size_t)(colon + 1 - tok);
	if (n > TOKENS_WORD_MAX)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static char path[4200];
	static const char html[] = "Content-Type: text/html; charset=utf-8\n\n";
	struct tokens t = { 0 };
	struct err e;
	int fd;

	if (!ready) {
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path, sizeof path, "%s/msg", dir);
		ready = 1;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    (size > 0 && data[0] == '<' && write(fd, html, sizeof html - 1) != sizeof html - 1) ||
	    (size > 0 && write(fd, data, size) != (ssize_t)size))
		abort();
	if (tokens_from_message(&t, fd, &e) < 0)
		abort();
	close(fd);
	if (t.n > TOKENS_MAX)
		abort();
	tokens_each(&t, check, &t);
	tokens_free(&t);

	tokens_add_text(&t, "subject:", (const char *)data, size);
	if (t.n > TOKENS_MAX)
		abort();
	tokens_each(&t, check, &t);
	tokens_free(&t);
	return 0;
}
