/* lib/uidlist.c: UIDs for a Maildir folder: delivery order, appends,
 * expunges that never give a UID back, a torn last line, a lost list
 * (new UIDVALIDITY), and two processes syncing at once. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "uidlist.h"

static char dir[] = "/tmp/test-uidlist.XXXXXX";

static void deliver(const char *sub, const char *name)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fputs("Subject: x\n\nx\n", f);
	fclose(f);
}

static void expunge(const char *sub, const char *name)
{
	char path[4200];

	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
	unlink(path);
}

/* "uid:name uid:name ..." of a list */
static const char *show(const struct uidlist *l)
{
	static char out[4096];
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < l->n && o < sizeof out - 100; i++)
		o += (size_t)snprintf(out + o, sizeof out - o, "%u:%s ", l->e[i].uid, l->e[i].name);
	return out;
}

int main(void)
{
	struct uidlist l, r;
	struct err e;
	char path[4200];
	uint32_t validity;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof path, "%s/new", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/cur", dir);
	mkdir(path, 0700);

	ok(uidlist_read(&l, dir, &e) == 0 && l.validity == 0 && l.n == 0, "no list: empty, validity 0");
	uidlist_free(&l);
	/* the microseconds are not zero-padded: delivery order is numeric */
	deliver("new", "100.M100000P1Q2.h,S=1,W=2");
	deliver("new", "100.M99999P1Q1.h,S=1,W=2");
	deliver("cur", "99.M5P1Q1.h,S=1,W=2:2,S");
	ok(uidlist_sync(&l, dir, &e) == 0 && l.validity != 0 && l.next == 4, "sync: 3 UIDs");
	is_str(show(&l), "1:99.M5P1Q1.h,S=1,W=2 2:100.M99999P1Q1.h,S=1,W=2 3:100.M100000P1Q2.h,S=1,W=2 ",
	       "... in delivery order, by base name (no :2,S)");
	validity = l.validity;
	uidlist_free(&l);
	ok(uidlist_read(&r, dir, &e) == 0 && r.validity == validity && r.n == 3 && r.next == 4,
	   "a reader without the lock sees the same");
	ok(uidlist_find(&r, "100.M99999P1Q1.h,S=1,W=2") == 2 && uidlist_find(&r, "nope") == 0,
	   "uidlist_find");
	uidlist_free(&r);

	/* a move to cur/ with flags keeps the UID; a new message is appended */
	snprintf(path, sizeof path, "%s/new/100.M99999P1Q1.h,S=1,W=2", dir);
	{
		char to[4200];

		snprintf(to, sizeof to, "%s/cur/100.M99999P1Q1.h,S=1,W=2:2,RS", dir);
		rename(path, to);
	}
	deliver("new", "200.M1P1Q1.h,S=1,W=2");
	ok(uidlist_sync(&l, dir, &e) == 0 && l.validity == validity, "sync after a move and a delivery");
	is_str(show(&l), "1:99.M5P1Q1.h,S=1,W=2 2:100.M99999P1Q1.h,S=1,W=2 3:100.M100000P1Q2.h,S=1,W=2 4:200.M1P1Q1.h,S=1,W=2 ",
	       "... the moved message keeps UID 2, the new one gets 4");
	uidlist_free(&l);

	/* an expunge: the UID is never given again */
	expunge("new", "200.M1P1Q1.h,S=1,W=2");
	ok(uidlist_sync(&l, dir, &e) == 0 && l.n == 3 && l.next == 5, "expunge: 3 left, next UID still 5");
	uidlist_free(&l);
	deliver("new", "300.M1P1Q1.h,S=1,W=2");
	ok(uidlist_sync(&l, dir, &e) == 0 && uidlist_find(&l, "300.M1P1Q1.h,S=1,W=2") == 5,
	   "... the next message gets 5, not 4");
	uidlist_free(&l);

	/* a torn last line (a crash in an append) is not believed, and mended */
	snprintf(path, sizeof path, "%s/mail-uidlist", dir);
	if ((f = fopen(path, "a")) == NULL)
		abort();
	fputs("6 400.M1P", f);
	fclose(f);
	ok(uidlist_read(&r, dir, &e) == 0 && r.n == 4 && r.torn && r.validity == validity, "a torn last line is skipped");
	uidlist_free(&r);
	deliver("new", "400.M1P1Q1.h,S=1,W=2");
	ok(uidlist_sync(&l, dir, &e) == 0 && uidlist_find(&l, "400.M1P1Q1.h,S=1,W=2") == 6,
	   "... and the next sync gives the new message 6");
	uidlist_free(&l);
	ok(uidlist_read(&r, dir, &e) == 0 && r.n == 5 && r.validity == validity && !r.torn,
	   "... having rewritten the file whole");
	uidlist_free(&r);

	/* a broken list is lost: a new UIDVALIDITY, UIDs from 1 */
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fputs("mail-uidlist 1 1 9\n5 a\n3 b\n", f);   /* not ascending */
	fclose(f);
	ok(uidlist_read(&r, dir, &e) == 0 && r.validity == 0, "UIDs out of order: the list is lost");
	uidlist_free(&r);
	ok(uidlist_sync(&l, dir, &e) == 0 && l.validity != 0 && l.validity != 1 && l.n == 5 &&
	   l.e[0].uid == 1 && l.next == 6, "... the sync starts again with a new UIDVALIDITY");
	uidlist_free(&l);

	/* two processes syncing while messages arrive: UIDs unique, ascending */
	for (int k = 0; k < 2; k++)
		if (fork() == 0) {
			for (int i = 0; i < 30; i++) {
				char name[64];
				struct uidlist c;

				snprintf(name, sizeof name, "%d.M%dP%dQ1.h,S=1,W=2", 1000 + i, k, k);
				deliver("new", name);
				if (uidlist_sync(&c, dir, &e) < 0)
					_exit(1);
				uidlist_free(&c);
			}
			_exit(0);
		}
	{
		int st1, st2, good = 1;

		wait(&st1);
		wait(&st2);
		ok(WIFEXITED(st1) && WEXITSTATUS(st1) == 0 && WIFEXITED(st2) && WEXITSTATUS(st2) == 0,
		   "two processes, 30 syncs each");
		ok(uidlist_read(&r, dir, &e) == 0 && r.n == 65, "... all 65 messages listed");
		for (size_t i = 1; i < r.n; i++)
			good &= r.e[i].uid > r.e[i - 1].uid;
		for (size_t i = 0; i < r.n; i++)
			good &= uidlist_find(&r, r.e[i].name) == r.e[i].uid;
		ok(good, "... with unique, ascending UIDs");
		uidlist_free(&r);
	}
	{
		char cmd[4300];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return done_testing();
}
