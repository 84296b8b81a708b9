#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "addr.h"
#include "alias.h"
#include "file.h"
#include "users.h"

#define ALIASES_FILE_MAX ((size_t)256 << 20)

/* ---- the file ---- */

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

int aliases_name_valid(const char *name)
{
	if (name[0] == '#')
		return 0;   /* the line would read as a comment */
	if (name[0] == '@')
		return addr_domain_valid(name + 1);
	if (strchr(name, '@') != NULL)
		return addr_valid(name);
	return addr_local_valid(name, strlen(name));
}

static int target_check(const char *t, struct err *e)
{
	if (t[0] == '|' || t[0] == '/')
		return t[1] != '\0' ? 0 : err_set(e, EX_DATAERR, "empty command or file target");
	if (strncasecmp(t, ":include:", 9) == 0)
		return err_set(e, EX_DATAERR, ":include: targets are not supported");
	if (!aliases_name_valid(t))
		return err_set(e, EX_DATAERR, "invalid target %.100s", t);
	return 0;
}

void aliases_free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

long aliases_split(const char *list, char ***out, struct err *e)
{
	char *copy = strdup(list), *p, *start, **v = NULL;
	size_t n = 0;
	int quoted = 0;

	if (copy == NULL)
		return err_sys(e, EX_TEMPFAIL, "aliases");
	for (p = start = copy;; p++) {
		if (*p == '"')
			quoted = !quoted;
		if ((*p == ',' && !quoted) || *p == '\0') {
			char end = *p, *t, **nv;
			size_t len;

			*p = '\0';
			t = trim(start);
			len = strlen(t);
			if (len >= 2 && t[0] == '"' && t[len - 1] == '"') {
				t[len - 1] = '\0';
				t++;
			} else if (strchr(t, '"') != NULL) {
				err_set(e, EX_DATAERR, "unbalanced quote in %.100s", t);
				goto fail;
			} else if (len >= 2 && t[0] == '<' && t[len - 1] == '>') {
				t[len - 1] = '\0';
				t++;
			}
			if (*t == '\0') {
				if (end == '\0' && n > 0 && !quoted)
					break;   /* "a, b," ends in a comma: allowed */
				err_set(e, EX_DATAERR, "empty target");
				goto fail;
			}
			if (t[0] != '|' && t[0] != '/')
				addr_lower(t);
			if (target_check(t, e) < 0)
				goto fail;
			nv = realloc(v, (n + 1) * sizeof *v);
			if (nv == NULL || (nv[n] = strdup(t)) == NULL) {
				v = nv ? nv : v;
				err_sys(e, EX_TEMPFAIL, "aliases");
				goto fail;
			}
			v = nv;
			n++;
			if (end == '\0')
				break;
			start = p + 1;
		}
	}
	if (quoted) {
		err_set(e, EX_DATAERR, "unbalanced quote");
		goto fail;
	}
	free(copy);
	*out = v;
	return (long)n;
fail:
	free(copy);
	aliases_free_list(v, n);
	return -1;
}

static int alias_cmp(const void *a, const void *b)
{
	return strcmp(((const struct alias *)a)->name, ((const struct alias *)b)->name);
}

/* Add the entry in text (name: targets) that started on line lineno. */
static int add_entry(struct aliases *al, char *text, unsigned long lineno, struct err *e)
{
	char *colon = strchr(text, ':'), *name;
	struct alias *na, *a;
	long n;

	if (colon == NULL)
		return err_set(e, EX_DATAERR, "expected name: targets");
	*colon = '\0';
	name = addr_lower(trim(text));
	if (!aliases_name_valid(name))
		return err_set(e, EX_DATAERR, "invalid name %.100s", name);
	na = realloc(al->a, (al->n + 1) * sizeof *na);
	if (na == NULL)
		return err_sys(e, EX_TEMPFAIL, "aliases");
	al->a = na;
	a = &al->a[al->n];
	memset(a, 0, sizeof *a);
	a->lineno = lineno;
	n = aliases_split(colon + 1, &a->target, e);
	if (n < 0)
		return -1;
	a->ntarget = (size_t)n;
	if ((a->name = strdup(name)) == NULL) {
		aliases_free_list(a->target, a->ntarget);
		return err_sys(e, EX_TEMPFAIL, "aliases");
	}
	al->n++;
	return 0;
}

int aliases_load(struct aliases *al, const char *path, struct err *e)
{
	char *data;
	size_t len;
	int rc;

	memset(al, 0, sizeof *al);
	if (file_read_all(path, ALIASES_FILE_MAX, &data, &len, 1, e) < 0)
		return -1;
	rc = aliases_parse(al, data, len, path, e);
	free(data);
	return rc;
}

int aliases_parse(struct aliases *al, const char *data, size_t len, const char *path,
                  struct err *e)
{
	const char *p, *end, *nl;
	char *entry = NULL;
	size_t elen = 0, i;
	unsigned long lineno = 0, start = 0, errline = 0;
	int rc = 0;

	memset(al, 0, sizeof *al);
	for (p = data, end = data + len; rc == 0 && p < end; p = nl + 1) {
		size_t n;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		n = (size_t)(nl - p);
		lineno++;
		if (memchr(p, '\0', n) != NULL) {
			rc = err_set(e, EX_DATAERR, "NUL byte");
			errline = lineno;
			break;
		}
		{
			size_t k = 0;

			while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
				k++;
			/* Blank and comment lines are ignored, inside an entry too,
			 * as Postfix reads aliases(5). */
			if (k == n || p[k] == '#')
				continue;
			if (k > 0 && entry == NULL) {
				rc = err_set(e, EX_DATAERR, "continuation line without an entry");
				errline = lineno;
				break;
			}
		}
		if ((p[0] == ' ' || p[0] == '\t') && entry != NULL) {
			char *ne = realloc(entry, elen + n + 2);   /* continuation */

			if (ne == NULL) {
				rc = err_sys(e, EX_TEMPFAIL, "aliases");
				break;
			}
			entry = ne;
			entry[elen++] = ' ';
			memcpy(entry + elen, p, n);
			elen += n;
			entry[elen] = '\0';
			continue;
		}
		if (entry != NULL) {
			rc = add_entry(al, entry, start, e);
			free(entry);
			entry = NULL;
		}
		if (rc < 0) {
			errline = start;
			break;
		}
		if ((entry = strndup(p, n)) == NULL) {
			rc = err_sys(e, EX_TEMPFAIL, "aliases");
			break;
		}
		elen = n;
		start = lineno;
	}
	if (rc == 0 && entry != NULL && (rc = add_entry(al, entry, start, e)) < 0)
		errline = start;
	free(entry);
	if (rc == 0 && al->n > 1) {
		qsort(al->a, al->n, sizeof *al->a, alias_cmp);
		for (i = 1; i < al->n; i++)
			if (strcmp(al->a[i - 1].name, al->a[i].name) == 0) {
				unsigned long a = al->a[i - 1].lineno, b = al->a[i].lineno;

				errline = a > b ? a : b;
				rc = err_set(e, EX_DATAERR, "%.100s is already defined on line %lu",
				             al->a[i].name, a > b ? b : a);
				break;
			}
	}
	if (rc < 0) {
		if (errline > 0)
			err_prefix(e, 0, "%s:%lu", path, errline);
		aliases_free(al);
	}
	return rc;
}

const struct alias *aliases_get(const struct aliases *al, const char *name)
{
	struct alias key = { .name = (char *)name };

	if (al->n == 0)
		return NULL;
	return bsearch(&key, al->a, al->n, sizeof *al->a, alias_cmp);
}

void aliases_free(struct aliases *al)
{
	for (size_t i = 0; i < al->n; i++) {
		free(al->a[i].name);
		aliases_free_list(al->a[i].target, al->a[i].ntarget);
	}
	free(al->a);
	memset(al, 0, sizeof *al);
}

/* ---- resolution ---- */

struct ctx {
	struct resolver *r;
	struct target *t;
	size_t n, cap;
	const char *stack[ALIAS_DEPTH_MAX + 1];   /* aliases being expanded */
	int depth;
	int work;                                 /* aliases entered so far */
	struct err *e;
};

int resolver_is_local(const struct resolver *r, const char *domain)
{
	const char *p = r->local_domains;
	size_t n = strlen(domain);

	while (p != NULL && *p) {
		size_t len = strcspn(p, ", \t");

		if (len == n && strncasecmp(p, domain, n) == 0)
			return 1;
		p += len;
		p += strspn(p, ", \t");
	}
	return 0;
}

static int add(struct ctx *c, enum target_kind kind, const char *address,
               const char *detail, int code, const char *reason)
{
	struct target *t;
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->t[i].kind == kind && strcmp(c->t[i].address, address) == 0)
			return 0;
	if (c->n >= ALIAS_TARGETS_MAX)   /* the aliases file needs mending */
		return err_set(c->e, EX_CONFIG, "more than %d targets", ALIAS_TARGETS_MAX);
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;

		t = realloc(c->t, cap * sizeof *t);
		if (t == NULL)
			return err_sys(c->e, EX_TEMPFAIL, "resolve");
		c->t = t;
		c->cap = cap;
	}
	t = &c->t[c->n];
	memset(t, 0, sizeof *t);
	t->kind = kind;
	t->code = code;
	t->address = strdup(address);
	t->detail = detail ? strdup(detail) : NULL;
	t->reason = reason ? strdup(reason) : NULL;
	c->n++;
	if (t->address == NULL || (detail && !t->detail) || (reason && !t->reason))
		return err_sys(c->e, EX_TEMPFAIL, "resolve");
	return 0;
}

/* Returns 1 and adds the account when address has one, 0 when not, -1. */
static int account(struct ctx *c, const char *address, const char *detail)
{
	struct user u;
	int rc = users_lookup(c->r->users_file, address, &u, NULL, c->e);

	if (rc == 1) {
		rc = add(c, TARGET_LOCAL, u.address, detail, 0, NULL) < 0 ? -1 : 1;
		user_free(&u);
	}
	return rc;
}

static int expand(struct ctx *c, const char *address, int no_alias);

static int expand_alias(struct ctx *c, const struct alias *a, const char *address)
{
	char buf[ADDR_MAX + 2], msg[ADDR_MAX + 64];
	size_t i;
	int k, rc;

	for (k = 0; k < c->depth; k++)
		if (strcmp(c->stack[k], address) == 0) {
			snprintf(msg, sizeof msg, "alias loop through %.200s", address);
			return add(c, TARGET_ERROR, address, NULL, EX_DATAERR, msg) < 0 ? -1 : 1;
		}
	if (c->depth >= ALIAS_DEPTH_MAX) {
		snprintf(msg, sizeof msg, "aliases nested deeper than %d levels", ALIAS_DEPTH_MAX);
		return add(c, TARGET_ERROR, address, NULL, EX_DATAERR, msg) < 0 ? -1 : 1;
	}
	if (++c->work > ALIAS_WORK_MAX)
		return err_set(c->e, EX_CONFIG, "aliases expand to more than %d steps", ALIAS_WORK_MAX);
	c->stack[c->depth++] = address;
	for (i = 0, rc = 0; rc >= 0 && i < a->ntarget; i++) {
		const char *t = a->target[i];
		int self = 0, loop = 0;

		if (t[0] == '|' || t[0] == '/') {
			int allowed = t[0] == '|' ? c->r->allow_commands : c->r->allow_files;

			if (allowed)
				rc = add(c, t[0] == '|' ? TARGET_COMMAND : TARGET_FILE, t, NULL, 0, NULL);
			else
				rc = add(c, TARGET_ERROR, t, NULL, EX_NOPERM, t[0] == '|' ?
				         "mail to commands is not allowed (allow_mail_to_commands)" :
				         "mail to files is not allowed (allow_mail_to_files)");
			continue;
		}
		if (t[0] == '@')
			snprintf(buf, sizeof buf, "%.*s%s", (int)(strrchr(address, '@') - address), address, t);
		else
			(void)addr_qualify(t, c->r->domain, buf, sizeof buf);
		addr_lower(buf);
		for (k = 0; k < c->depth; k++)
			if (strcmp(c->stack[k], buf) == 0) {
				if (k == c->depth - 1)
					self = 1;
				else
					loop = 1;
			}
		if (loop) {
			snprintf(msg, sizeof msg, "alias loop through %.200s", buf);
			rc = add(c, TARGET_ERROR, address, NULL, EX_DATAERR, msg);
			continue;
		}
		rc = expand(c, buf, self);
		if (rc == 0)
			rc = add(c, TARGET_ERROR, buf, NULL, EX_NOUSER, "no such user here");
	}
	c->depth--;
	return rc < 0 ? -1 : 1;
}

/* Expand address (lower case, with a domain). Returns 1 when something
 * receives it, 0 when nothing does, -1 on a hard error. */
static int expand(struct ctx *c, const char *address, int no_alias)
{
	char base[ADDR_MAX + 1], local[ADDR_MAX + 2];
	const char *domain = addr_domain(address), *detail = NULL;
	const struct alias *a;
	size_t cut;
	int is_local, rc;

	if (domain == NULL || !addr_valid(address))
		return add(c, TARGET_ERROR, address, NULL, EX_DATAERR, "invalid address") < 0 ? -1 : 1;
	if (!no_alias && (a = aliases_get(&c->r->aliases, address)) != NULL)
		return expand_alias(c, a, address);
	if ((rc = account(c, address, NULL)) != 0)
		return rc;
	is_local = resolver_is_local(c->r, domain);
	if (!is_local)
		return add(c, TARGET_REMOTE, address, NULL, 0, NULL) < 0 ? -1 : 1;
	/* local+detail@domain: the address without its detail */
	cut = strcspn(address, c->r->delimiters);
	if (cut > 0 && address + cut < domain - 1) {
		detail = address + cut + 1;
		snprintf(base, sizeof base, "%.*s%s", (int)cut, address, domain - 1);
		snprintf(local, sizeof local, "%.*s", (int)(domain - 1 - detail), detail);
		detail = local;
		if (!no_alias && (a = aliases_get(&c->r->aliases, base)) != NULL)
			return expand_alias(c, a, base);
		if ((rc = account(c, base, detail)) != 0)
			return rc;
	}
	if (!no_alias) {
		char name[ADDR_MAX + 2];

		snprintf(name, sizeof name, "%.*s", (int)(domain - 1 - address), address);
		if ((a = aliases_get(&c->r->aliases, name)) != NULL)
			return expand_alias(c, a, address);
		if (detail != NULL) {
			name[cut] = '\0';
			if ((a = aliases_get(&c->r->aliases, name)) != NULL)
				return expand_alias(c, a, base);
		}
		snprintf(name, sizeof name, "@%s", domain);
		if ((a = aliases_get(&c->r->aliases, name)) != NULL)
			return expand_alias(c, a, detail ? base : address);
	}
	return 0;
}

int resolve(struct resolver *r, const char *address, struct target **out,
            size_t *n, struct err *e)
{
	struct ctx c;
	char a[ADDR_MAX + 2];
	int rc;

	*out = NULL;
	*n = 0;
	if (!r->loaded) {
		if (aliases_load(&r->aliases, r->aliases_file, e) < 0) {
			e->code = e->code == EX_DATAERR ? EX_CONFIG : e->code;
			return -1;
		}
		r->loaded = 1;
	}
	if (addr_qualify(address, r->domain, a, sizeof a) < 0 || !addr_valid(a))
		return err_set(e, EX_DATAERR, "invalid address");
	addr_lower(a);
	memset(&c, 0, sizeof c);
	c.r = r;
	c.e = e;
	rc = expand(&c, a, 0);
	if (rc == 0)
		rc = err_set(e, EX_NOUSER, "no such user here: %s", a);
	if (rc < 0) {
		resolve_free(c.t, c.n);
		return -1;
	}
	*out = c.t;
	*n = c.n;
	return 0;
}

void resolve_free(struct target *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].address);
		free(t[i].detail);
		free(t[i].reason);
	}
	free(t);
}

int resolver_configure(struct resolver *r, const struct conf *c, const char *hostname,
                       struct err *e)
{
	memset(r, 0, sizeof *r);
	r->users_file = conf_get(c, CONF_USERS_FILE, USERS_FILE_DEFAULT);
	r->aliases_file = conf_get(c, CONF_ALIASES_FILE, ALIASES_FILE_DEFAULT);
	r->local_domains = conf_get(c, CONF_LOCAL_DOMAINS, hostname);
	snprintf(r->first_domain, sizeof r->first_domain, "%.*s",
	         (int)strcspn(r->local_domains, ", \t"), r->local_domains);
	r->domain = conf_get(c, CONF_DOMAIN, r->first_domain);
	r->delimiters = conf_get(c, CONF_RECIPIENT_DELIMITER, "+");
	if (conf_get_bool(c, CONF_ALLOW_MAIL_TO_COMMANDS, 0, &r->allow_commands, e) < 0 ||
	    conf_get_bool(c, CONF_ALLOW_MAIL_TO_FILES, 0, &r->allow_files, e) < 0)
		return -1;
	return 0;
}

void resolver_free(struct resolver *r)
{
	if (r->loaded)
		aliases_free(&r->aliases);
	r->loaded = 0;
}
