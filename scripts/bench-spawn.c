/* bench-spawn: time N runs of a command, one process each, as a queue
 * runner starts a delivery agent (posix_spawn, so vfork: no copy of a
 * large parent), with stdin opened afresh from INPUT for every run.
 *
 * usage: bench-spawn N INPUT COMMAND [ARG...]
 *
 * Prints the elapsed seconds on stdout. Exit 1 (with the run number on
 * stderr) as soon as a run does not exit 0; 2 on bad usage. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	char *end;
	unsigned long n;

	if (argc < 4) {
		fprintf(stderr, "usage: bench-spawn N INPUT COMMAND [ARG...]\n");
		return 2;
	}
	n = strtoul(argv[1], &end, 10);
	if (*argv[1] == '\0' || *end != '\0' || n == 0) {
		fprintf(stderr, "bench-spawn: bad count %s\n", argv[1]);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 1; i <= n; i++) {
		posix_spawn_file_actions_t fa;
		pid_t pid;
		int status, rc;

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, argv[2], O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		rc = posix_spawnp(&pid, argv[3], &fa, NULL, argv + 3, environ);
		posix_spawn_file_actions_destroy(&fa);
		if (rc != 0) {
			fprintf(stderr, "bench-spawn: cannot run %s: %s\n", argv[3], strerror(rc));
			return 1;
		}
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "bench-spawn: run %lu of %lu failed (status %d): %s\n",
			        i, n, status, argv[3]);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.6f\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
