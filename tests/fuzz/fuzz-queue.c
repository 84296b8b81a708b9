/* libFuzzer target for what the queue runner reads from files others may
 * write: a message file (users drop them into incoming/) and a state file.
 * Invariants checked on every input:
 *  - queue_load fails cleanly or gives an envelope whose every field is
 *    inside the file's envelope, a sender, and at least one recipient,
 *    with the message part exactly as long as the size line says;
 *  - queue_state_read never crashes and never names a recipient outside
 *    the envelope.
 * Build and run with scripts/fuzz. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"

static char dir[] = "/tmp/fuzz-queue.XXXXXX";

static void write_file(const char *path, const uint8_t *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || (n > 0 && fwrite(data, 1, n, f) != n) || fclose(f) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static int ready;
	char path[4200];
	struct queue_file f;
	struct queue_state s;
	struct err e;
	struct stat st;

	if (!ready) {
		if (mkdtemp(dir) == NULL || queue_init(dir, &e) < 0)
			abort();
		ready = 1;
	}
	snprintf(path, sizeof path, "%s/msg/1.M1P1Q1", dir);
	write_file(path, data, n);
	if (queue_load(&f, path, &e) == 0) {
		if (stat(path, &st) < 0 || (uint64_t)st.st_size != f.body_at + f.size)
			abort();
		if (f.env.sender == NULL || f.env.nrcpt == 0)
			abort();
		for (size_t i = 0; i < f.env.nrcpt; i++)
			if (f.rcpt[i].address < f.text || f.rcpt[i].address >= f.text + f.body_at)
				abort();
		queue_file_free(&f);
	}
	/* the same bytes as the state file of a message with 3 recipients */
	snprintf(path, sizeof path, "%s/state/1.M1P1Q1", dir);
	write_file(path, data, n);
	if (queue_state_lock(&s, dir, "1.M1P1Q1", &e) != 1)
		abort();
	if (queue_state_read(&s, 3, &e) == 0)
		for (size_t i = 0; i < s.n; i++)
			if (s.ev[i].rcpt >= 3 || s.ev[i].target[0] == '\0')
				abort();
	queue_state_close(&s);
	return 0;
}
