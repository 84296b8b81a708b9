/* alias: the aliases file and the resolution of an address to the places
 * its mail goes.
 *
 * The file is aliases(5): "name: target, target", continued on lines that
 * start with a blank, '#' comments. A name is a full address
 * (alias@example.org), a bare local part applying to every local domain
 * (postmaster), or "@domain" (catch-all). A target is an address, a bare
 * name (qualified with the default domain), "@domain" (the same local part
 * at that domain), "|command" or "/file" (refused unless allowed), quoted
 * with "..." when it holds commas or blanks.
 *
 * Resolution of local[+detail]@domain tries, in order: the alias of the
 * whole address, the account, the alias and account without +detail, the
 * bare local part (local domains only), the catch-all, and for a local
 * domain ends in "unknown". An alias that names itself among its targets
 * delivers to itself as well (the Postfix and sendmail rule); any other
 * cycle is a loop. */
#ifndef ALIAS_H
#define ALIAS_H

#include <stddef.h>

#include "conf.h"
#include "err.h"

#define USERS_FILE_DEFAULT SYSCONFDIR "/mail/users"
#define ALIASES_FILE_DEFAULT SYSCONFDIR "/mail/aliases"

#define ALIAS_DEPTH_MAX 20       /* nesting levels */
#define ALIAS_TARGETS_MAX 1000   /* addresses one resolution may yield */
#define ALIAS_WORK_MAX 10000     /* aliases one resolution may enter */

struct alias {
	char *name;          /* lower case */
	char **target;
	size_t ntarget;
	unsigned long lineno;
};

struct aliases {
	struct alias *a;     /* sorted by name */
	size_t n;
};

/* Read and check the file at path (a missing file is empty). Returns 0,
 * or -1 with e set: EX_DATAERR naming the line of a malformed entry,
 * EX_TEMPFAIL when it cannot be read. */
int aliases_load(struct aliases *al, const char *path, struct err *e);
/* The same for the len bytes of data read from path. */
int aliases_parse(struct aliases *al, const char *data, size_t len, const char *path,
                  struct err *e);
const struct alias *aliases_get(const struct aliases *al, const char *name);
void aliases_free(struct aliases *al);

/* Is name a valid alias name: an address, a bare local part or @domain? */
int aliases_name_valid(const char *name);

/* Split a target list ("a, b, "|cmd x"") into *out, each target checked.
 * Returns the count, or -1 with e set (EX_DATAERR). */
long aliases_split(const char *list, char ***out, struct err *e);
void aliases_free_list(char **list, size_t n);

enum target_kind { TARGET_LOCAL, TARGET_REMOTE, TARGET_COMMAND, TARGET_FILE, TARGET_ERROR };

struct target {
	enum target_kind kind;
	char *address;       /* account, remote address, command or path */
	char *detail;        /* LOCAL: the +detail of the address, or NULL */
	int code;            /* ERROR: sysexits code */
	char *reason;        /* ERROR: one line */
};

struct resolver {
	const char *users_file;
	const char *aliases_file;
	const char *local_domains;   /* comma or blank separated */
	const char *domain;          /* for bare names */
	const char *delimiters;      /* subaddress delimiters, "" for none */
	int allow_commands, allow_files;
	struct aliases aliases;      /* loaded on first use */
	int loaded;
	char first_domain[256];      /* the default of domain */
};

/* Fill r from mail.conf as every program reads it: users_file and
 * aliases_file (defaults above), local_domains (default hostname),
 * domain (default: the first local domain), recipient_delimiter ("+"),
 * allow_mail_to_commands and allow_mail_to_files (no). Returns 0, or -1
 * with e set (EX_CONFIG) for a bad yes/no value. */
int resolver_configure(struct resolver *r, const struct conf *c, const char *hostname,
                       struct err *e);

/* Is domain one of r's local domains (any case)? */
int resolver_is_local(const struct resolver *r, const char *domain);

/* Resolve address into *out (n entries, ERROR ones included, duplicates
 * removed). Returns 0; or -1 with e set: EX_NOUSER when address is in a
 * local domain and nothing receives it, EX_DATAERR when it is malformed,
 * EX_TEMPFAIL or EX_CONFIG when a file cannot be read or is broken, or the
 * aliases expand beyond the limits above. */
int resolve(struct resolver *r, const char *address, struct target **out,
            size_t *n, struct err *e);
void resolve_free(struct target *t, size_t n);
void resolver_free(struct resolver *r);

#endif
