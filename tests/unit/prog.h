/* prog.h: find a peer program for a unit test that starts a real server. */
#ifndef PROG_H
#define PROG_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The path of the executable name in $PATH, then /usr/sbin and /sbin
 * (daemons live there and a user's PATH may lack them), into out (size
 * outsz). Returns out, or NULL when there is none. */
static inline const char *find_prog(const char *name, char *out, size_t outsz)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (snprintf(buf, sizeof buf, "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin") >= (int)sizeof buf)
		return NULL;
	for (char *save, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		int k = snprintf(out, outsz, "%s/%s", d, name);

		if (k > 0 && (size_t)k < outsz && access(out, X_OK) == 0)
			return out;
	}
	return NULL;
}

#endif
