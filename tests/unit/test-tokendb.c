/* lib/tokendb.c: create, train and untrain, totals, a read-only opener,
 * a reader in another process while a writer commits, a missing
 * database, map growth, batches, and a file that is not a database. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "tap.h"
#include "tokendb.h"

static char dir[] = "/tmp/test-tokendb.XXXXXX";
static char path[4200];

static int counts_are(struct tokendb *db, const char *tok, uint32_t spam, uint32_t ham)
{
	char *t[1] = { (char *)tok };
	struct token_counts c, tot;
	struct err e;

	if (tokendb_lookup(db, t, 1, &c, &tot, &e) != 0) {
		printf("# lookup: %s\n", e.msg);
		return 0;
	}
	if (c.spam != spam || c.ham != ham)
		printf("# %s: got %u/%u want %u/%u\n", tok, c.spam, c.ham, spam, ham);
	return c.spam == spam && c.ham == ham;
}

static int totals_are(struct tokendb *db, uint32_t spam, uint32_t ham)
{
	struct token_counts tot;
	struct err e;

	if (tokendb_lookup(db, NULL, 0, NULL, &tot, &e) != 0)
		return 0;
	if (tot.spam != spam || tot.ham != ham)
		printf("# totals: got %u/%u want %u/%u\n", tot.spam, tot.ham, spam, ham);
	return tot.spam == spam && tot.ham == ham;
}

/* LMDB allows one environment per database file in a process: another
 * process opens the database read-only and checks one token and the
 * totals (totals unchecked when tspam is -1). */
static int reader_sees(const char *tok, uint32_t spam, uint32_t ham, long tspam, long tham)
{
	struct tokendb *r;
	struct err e;
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (tokendb_open(&r, path, 0, &e) != 0) {
			printf("# open: %s\n", e.msg);
			_exit(2);
		}
		if (!counts_are(r, tok, spam, ham) ||
		    (tspam >= 0 && !totals_are(r, (uint32_t)tspam, (uint32_t)tham)))
			_exit(1);
		tokendb_close(r);
		_exit(0);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(void)
{
	char *spam1[] = { "viagra", "free", "money", "free" };
	char *ham1[] = { "meeting", "free", "tomorrow" };
	char *odd[] = { "", "ok" };
	struct tokendb *w, *r;
	struct token_counts c[4], tot;
	struct err e;
	char big[600];
	FILE *f;
	int st;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof path, "%s/spam.lmdb", dir);

	ok(tokendb_open(&r, path, 0, &e) == 0, "a reader opens a missing database");
	ok(tokendb_lookup(r, spam1, 4, c, &tot, &e) == 0 && c[0].spam == 0 && c[3].ham == 0 &&
	   tot.spam == 0 && tot.ham == 0, "... and sees it empty");
	ok(access(path, F_OK) != 0, "... without creating it");
	tokendb_close(r);

	ok(tokendb_open(&w, path, 1, &e) == 0, "a writer creates it");
	{
		char lock[4300];
		struct stat sb;

		snprintf(lock, sizeof lock, "%s-lock", path);
		ok(stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 077) == 0 &&
		   access(lock, F_OK) == 0, "one file, mode 0600, beside its -lock file");
	}
	ok(totals_are(w, 0, 0), "new: totals 0/0");
	ok(tokendb_train(w, spam1, 4, 1, 1, &e) == 0, "learn a spam");
	ok(tokendb_train(w, ham1, 3, 0, 1, &e) == 0, "learn a ham");
	ok(counts_are(w, "free", 1, 1) && counts_are(w, "viagra", 1, 0) &&
	   counts_are(w, "meeting", 0, 1) && counts_are(w, "nothing", 0, 0),
	   "counts; a token twice in a message counts once");
	ok(totals_are(w, 1, 1), "totals 1/1");

	ok(reader_sees("free", 1, 1, 1, 1), "a read-only opener sees the committed data");
	ok(tokendb_lookup(w, spam1, 4, c, &tot, &e) == 0 && c[0].spam == 1 && c[1].ham == 1 &&
	   c[2].spam == 1 && c[3].spam == 1, "lookup of several, duplicates included");

	ok(tokendb_train(w, spam1, 4, 1, -1, &e) == 0, "unlearn the spam");
	ok(counts_are(w, "viagra", 0, 0) && counts_are(w, "free", 0, 1) && totals_are(w, 0, 1),
	   "its counts and total go back");
	ok(reader_sees("viagra", 0, 0, 0, 1), "a reader sees that");
	ok(tokendb_train(w, spam1, 4, 1, -1, &e) == 0 && counts_are(w, "viagra", 0, 0) &&
	   counts_are(w, "free", 0, 1) && totals_are(w, 0, 1), "unlearning again stays at 0");
	ok(tokendb_train(w, spam1, 4, 1, 2, &e) == -1 && e.code == EX_USAGE, "delta 2 refused");
	ok(tokendb_train(w, odd, 2, 1, 1, &e) == 0 && counts_are(w, "ok", 1, 0) &&
	   counts_are(w, "", 0, 0), "the empty token is skipped");
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	{
		char *bt[] = { big };

		ok(tokendb_train(w, bt, 1, 1, 1, &e) == 0 && counts_are(w, big, 0, 0) &&
		   totals_are(w, 2, 1), "a token longer than a key is skipped, the message counted");
	}

	/* a reader in another process, while this one commits */
	{
		int to[2], from[2];
		char ch;
		pid_t pid;

		if (pipe(to) != 0 || pipe(from) != 0)
			abort();
		/* the child's diagnostics (one of the two lookups below always
		 * differs) must not reach the TAP stream, nor the lines the
		 * parent has not flushed yet: they would be printed twice */
		fflush(stdout);
		if ((pid = fork()) == 0) {
			struct tokendb *cr;
			int good = 1;

			if (freopen("/dev/null", "w", stdout) == NULL)
				_exit(2);
			close(to[1]);
			close(from[0]);
			if (tokendb_open(&cr, path, 0, &e) != 0)
				_exit(2);
			good &= counts_are(cr, "meeting", 0, 1);
			if (write(from[1], "r", 1) != 1 || read(to[0], &ch, 1) != 1)
				_exit(3);
			for (int i = 0; i < 200; i++)
				if (!counts_are(cr, "fresh", 0, 0) && !counts_are(cr, "fresh", 1, 0))
					good = 0;
			if (read(to[0], &ch, 1) != 1)
				_exit(3);
			good &= counts_are(cr, "fresh", 1, 0);
			tokendb_close(cr);
			_exit(good ? 0 : 1);
		}
		close(to[0]);
		close(from[1]);
		if (read(from[0], &ch, 1) != 1 || write(to[1], "g", 1) != 1)
			abort();
		{
			char *ft[] = { "fresh" };

			ok(tokendb_train(w, ft, 1, 1, 1, &e) == 0, "train while another process reads");
		}
		if (write(to[1], "g", 1) != 1)
			abort();
		waitpid(pid, &st, 0);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "the reader saw before and after, never a torn state");
	}

	/* a batch */
	ok(tokendb_begin(w, &e) == 0, "begin a batch");
	ok(tokendb_begin(w, &e) == -1 && e.code == EX_USAGE, "not twice");
	for (int i = 0; i < 100; i++)
		tokendb_train(w, ham1, 3, 0, 1, &e);
	ok(counts_are(w, "meeting", 0, 101), "inside the batch its own lookups see it");
	ok(reader_sees("meeting", 0, 1, 3, 1), "another reader does not yet");
	ok(tokendb_commit(w, &e) == 0 && reader_sees("meeting", 0, 101, 3, 101),
	   "after the commit it does");
	ok(tokendb_begin(w, &e) == 0 && tokendb_train(w, ham1, 3, 0, 1, &e) == 0, "a batch...");
	tokendb_abort(w);
	ok(counts_are(w, "meeting", 0, 101), "... aborted leaves nothing");
	ok(tokendb_begin(w, &e) == 0 && tokendb_commit(w, &e) == 0 &&
	   counts_are(w, "meeting", 0, 101), "an empty batch commits, changing nothing");

	/* map growth: 200,000 distinct tokens, a map that starts at 4 MiB */
	{
		enum { N = 200000 };
		char **t = malloc(N * sizeof *t);
		char *buf = malloc((size_t)N * 16);
		struct stat sb;
		int good;

		if (t == NULL || buf == NULL)
			abort();
		for (int i = 0; i < N; i++) {
			t[i] = buf + (size_t)i * 16;
			snprintf(t[i], 16, "tok%07d", i);
		}
		int to[2], from[2];
		char ch;
		pid_t pid;

		/* a reader that opened the database before it grew */
		if (pipe(to) != 0 || pipe(from) != 0)
			abort();
		fflush(stdout);
		if ((pid = fork()) == 0) {
			struct tokendb *cr;
			int fine;

			close(to[1]);
			close(from[0]);
			if (tokendb_open(&cr, path, 0, &e) != 0 || !counts_are(cr, "tok0000001", 0, 0) ||
			    write(from[1], "r", 1) != 1 || read(to[0], &ch, 1) != 1)
				_exit(2);
			fine = counts_are(cr, "tok0000001", 1, 0) && counts_are(cr, "tok0199998", 1, 0) &&
			       totals_are(cr, 5, 102);
			tokendb_close(cr);
			_exit(fine ? 0 : 1);
		}
		close(to[0]);
		close(from[1]);
		if (read(from[0], &ch, 1) != 1)
			abort();
		ok(tokendb_train(w, t, N / 2, 1, 1, &e) == 0, "100k tokens in one message");
		ok(tokendb_begin(w, &e) == 0 && tokendb_train(w, t + N / 2, N / 4, 0, 1, &e) == 0 &&
		   tokendb_train(w, t + N / 2 + N / 4, N / 4, 1, 1, &e) == 0 &&
		   tokendb_commit(w, &e) == 0, "100k more in a batch that grows the map");
		good = stat(path, &sb) == 0 && sb.st_size > (4 << 20);
		ok(good, "the file outgrew the first map (%lld bytes)", (long long)sb.st_size);
		ok(counts_are(w, "tok0000000", 1, 0) && counts_are(w, "tok0149999", 0, 1) &&
		   counts_are(w, "tok0199999", 1, 0) && totals_are(w, 5, 102), "all there");
		ok(reader_sees("tok0123456", 0, 1, 5, 102), "a new reader maps the grown file");
		if (write(to[1], "g", 1) != 1)
			abort();
		ok(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "a reader open since before the growth maps it too");
		close(to[1]);
		close(from[0]);
		tokendb_close(w);
		free(t);
		free(buf);
	}

	/* not a database */
	snprintf(path, sizeof path, "%s/garbage", dir);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	for (int i = 0; i < 3000; i++)
		fputs("this is not an lmdb file\n", f);
	fclose(f);
	ok(tokendb_open(&r, path, 0, &e) == -1 && e.code == EX_TEMPFAIL && strstr(e.msg, "garbage"),
	   "a garbage file: a clean error (%s)", e.msg);
	ok(tokendb_open(&w, path, 1, &e) == -1 && e.code == EX_TEMPFAIL, "also for a writer");

	/* a directory holds LMDB's own data.mdb */
	snprintf(path, sizeof path, "%s/db", dir);
	mkdir(path, 0700);
	ok(tokendb_open(&r, path, 0, &e) == 0 && counts_are(r, "x", 0, 0), "empty directory: empty");
	tokendb_close(r);
	ok(tokendb_open(&w, path, 1, &e) == 0 && tokendb_train(w, spam1, 1, 1, 1, &e) == 0,
	   "a directory database");
	tokendb_close(w);
	ok(tokendb_open(&r, path, 0, &e) == 0 && counts_are(r, "viagra", 1, 0), "... read back");
	ok(tokendb_train(r, spam1, 1, 1, 1, &e) == -1 && e.code == EX_USAGE &&
	   tokendb_begin(r, &e) == -1, "a reader cannot train");
	tokendb_close(r);

	snprintf(path, sizeof path, "rm -rf %s", dir);
	if (system(path) != 0)
		return 1;
	return done_testing();
}
