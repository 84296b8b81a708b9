#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "err.h"
#include "run.h"

int run_is_permanent(int status)
{
	/* 69 (EX_UNAVAILABLE) is what mail-store --quota-bounce means as a
	 * bounce, and Postfix's pipe(8) reads it so too */
	static const int codes[] = { 64, 65, 67, 68, 69, 70, 76, 77, 78, 100 };

	if (!WIFEXITED(status))
		return 0;   /* a crash is temporary: never bounce on a bug */
	for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
		if (WEXITSTATUS(status) == codes[i])
			return 1;
	return 0;
}

int run_program(char *const argv[], char *const env[], int in_fd, int out_fd,
                const struct run_as *as, time_t deadline, struct run_result *r)
{
	char why[512], drain[512];
	size_t got = 0;
	int status = 0, errpipe[2], reaped = 0;
	pid_t pid, parent = getpid();

	memset(r, 0, sizeof *r);
	r->status = -1;
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		snprintf(r->reason, sizeof r->reason, "cannot start %s: %s", argv[0], strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		int null = out_fd >= 0 ? -1 : open("/dev/null", O_WRONLY);

		/* a runner killed mid-delivery takes its delivery with it, so
		 * the retry never races a leftover copy of itself */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && getppid() != parent)
			_exit(EX_TEMPFAIL);
		setpgid(0, 0);   /* so that a timeout can end all it started */
		if (as != NULL && (initgroups(as->name, as->gid) < 0 || setgid(as->gid) < 0 ||
		                   setuid(as->uid) < 0)) {
			fprintf(stderr, "cannot become %s: %s\n", as->name, strerror(errno));
			_exit(EX_TEMPFAIL);
		}
		dup2(in_fd, 0);
		dup2(out_fd >= 0 ? out_fd : null >= 0 ? null : errpipe[1], 1);
		dup2(errpipe[1], 2);
		for (size_t i = 0; env != NULL && env[i] != NULL; i++)
			putenv(env[i]);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(EX_TEMPFAIL);
	}
	close(errpipe[1]);
	if (pid < 0) {
		close(errpipe[0]);
		snprintf(r->reason, sizeof r->reason, "cannot start %s: %s", argv[0], strerror(errno));
		return -1;
	}
	(void)setpgid(pid, pid);   /* as the child does: no race either way */
	/* The first line of its stderr is the reason; the rest is drained.
	 * Reading stops when the program has exited (a child it left behind
	 * may hold the pipe) or the deadline has passed (then its whole
	 * process group is killed). */
	for (int done = 0; !done;) {
		struct pollfd p = { .fd = errpipe[0], .events = POLLIN };
		pid_t w;

		if (poll(&p, 1, 200) > 0) {
			ssize_t k = read(errpipe[0], drain, sizeof drain);

			if (k > 0) {
				size_t take = (size_t)k;

				if (take > sizeof why - 1 - got)
					take = sizeof why - 1 - got;
				memcpy(why + got, drain, take);
				got += take;
				continue;
			}
			if (k == 0)
				break;   /* every writer closed it */
		}
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			reaped = 1;
			done = 1;
		} else if (deadline != 0 && time(NULL) >= deadline) {
			kill(-pid, SIGKILL);
		}
	}
	why[got] = '\0';
	close(errpipe[0]);
	if (!reaped)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	kill(-pid, SIGKILL);   /* what the program left running */
	why[strcspn(why, "\n")] = '\0';
	err_escape(r->reason, sizeof r->reason, why, strlen(why));
	r->status = status;
	r->ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	r->permanent = !r->ok && run_is_permanent(status);
	return r->ok ? 0 : -1;
}
