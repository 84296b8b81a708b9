/* libFuzzer target for the SMTP session (lib/smtpd.c) and the path and
 * parameter parsers under it: the input is what a client sends, whole.
 * Invariants: no crash, no leak, no read beyond the input; every message
 * committed to the queue has an envelope ended by a blank line and a
 * message part of exactly its size line's length, and no file is left
 * in the queue's tmp/. Build and run with scripts/fuzz. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alias.h"
#include "net.h"
#include "queue.h"
#include "smtp.h"
#include "smtpd.h"

static char dir[] = "/tmp/fuzz-smtpd.XXXXXX";
static char users[300], aliases[300], queue[300];

static void setup(void)
{
	FILE *f;
	struct err e;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(users, sizeof users, "%s/users", dir);
	snprintf(aliases, sizeof aliases, "%s/aliases", dir);
	snprintf(queue, sizeof queue, "%s/queue", dir);
	f = fopen(users, "w");
	fputs("bob@example.org:{PLAIN}pw:\n", f);
	fclose(f);
	f = fopen(aliases, "w");
	fputs("postmaster: bob\n", f);
	fclose(f);
	if (queue_init(queue, &e) < 0)
		abort();
}

/* Remove what the run queued, checking each file's envelope. */
static void check_queue(void)
{
	char path[700];
	struct dirent *d;
	DIR *q;

	snprintf(path, sizeof path, "%s/tmp", queue);
	q = opendir(path);
	while ((d = readdir(q)) != NULL)
		if (d->d_name[0] != '.')
			abort();   /* debris: an aborted message was not removed */
	closedir(q);
	snprintf(path, sizeof path, "%s/msg", queue);
	q = opendir(path);
	while ((d = readdir(q)) != NULL) {
		char file[1000], line[1024];
		unsigned long long size = 0;
		long body = -1, end;
		int blank = 0;
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(file, sizeof file, "%s/%s", path, d->d_name);
		f = fopen(file, "r");
		while (f && fgets(line, sizeof line, f)) {
			if (strncmp(line, "size\t", 5) == 0)
				size = strtoull(line + 5, NULL, 10);
			if (strcmp(line, "\n") == 0) {
				blank = 1;
				body = ftell(f);
				break;
			}
		}
		if (f) {
			fseek(f, 0, SEEK_END);
			end = ftell(f);
			fclose(f);
			if (blank && (unsigned long long)(end - body) != size)
				abort();   /* the size line must tell the message's length */
		}
		if (!blank)
			abort();
		unlink(file);
	}
	closedir(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static int ready;
	static struct net net;
	struct resolver r;
	struct smtpd_config c;
	int in, out;

	if (!ready) {
		setup();
		ready = 1;
	}
	in = memfd_create("in", 0);
	out = open("/dev/null", O_WRONLY);
	if (in < 0 || out < 0 || write(in, data, n) != (ssize_t)n)
		abort();
	lseek(in, 0, SEEK_SET);
	memset(&r, 0, sizeof r);
	r.users_file = users;
	r.aliases_file = aliases;
	r.local_domains = "example.org";
	r.domain = "example.org";
	r.delimiters = "+";
	memset(&c, 0, sizeof c);
	c.hostname = "mx.example.org";
	c.queue_dir = queue;
	c.resolver = &r;
	c.users_file = users;
	c.realm = "example.org";
	c.max_size = 100000;
	c.max_rcpt = 5;
	c.max_errors = 1000;
	c.line_limit = 998;
	c.session_timeout = 60;
	c.auth_plaintext = 1;
	c.normalize_newlines = n > 0 && data[0] == 'N';
	c.relay_client = n > 1 && data[1] == 'R';
	c.remote_ip = "192.0.2.1";
	net_init(&net, in, out, 1000);
	smtpd_run(&net, &c);
	resolver_free(&r);
	close(in);
	close(out);
	check_queue();
	return 0;
}
