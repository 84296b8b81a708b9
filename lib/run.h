/* run: start a program that takes one message on stdin (mail-store, a
 * filter, a --deliver program) and read its verdict, by the exit-code
 * contract of DESIGN.md: 0 done; 64, 65, 67, 68, 69, 70, 76, 77, 78 and
 * 100 permanent; anything else, a signal included, temporary. The first
 * line of its stderr is the reason. */
#ifndef RUN_H
#define RUN_H

#include <sys/types.h>
#include <time.h>

struct run_result {
	int status;          /* as waitpid(2) gave it; -1 when it did not start */
	int ok;              /* exited 0 */
	int permanent;       /* a failure that retrying cannot cure */
	char reason[400];    /* first line of stderr, escaped; may be "" */
};

/* Who a program runs as, when not as the caller. */
struct run_as {
	uid_t uid;
	gid_t gid;
	const char *name;    /* for its supplementary groups (initgroups) */
};

/* Run argv[0] (PATH searched) with in_fd as stdin, out_fd as stdout
 * (-1: /dev/null), each "NAME=value" of env added to the environment, in
 * its own process group, as the user as names (NULL: the caller's). At deadline (0: none) the group is killed, which
 * counts as a temporary failure, as does a program that cannot start.
 * Whatever the program leaves running is killed when it exits, and the
 * program itself when the caller dies (a killed runner leaves no delivery
 * behind to race its retry). Always
 * fills r; returns 0 when the program exited 0, else -1. */
int run_program(char *const argv[], char *const env[], int in_fd, int out_fd,
                const struct run_as *as, time_t deadline, struct run_result *r);

/* Is a waitpid status a permanent failure by the contract above? */
int run_is_permanent(int status);

#endif
