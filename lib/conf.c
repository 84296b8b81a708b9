#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "conf.h"

#define CONF_LINE_MAX 4096
#define CONF_FILE_MAX 10000   /* lines */

static const char *const names[CONF_NKEYS] = {
	[CONF_HOSTNAME] = "hostname",
	[CONF_HOME_MAILBOX] = "home_mailbox",
	[CONF_LOCK_TIMEOUT] = "lock_timeout",
	[CONF_USERS_FILE] = "users_file",
	[CONF_ALIASES_FILE] = "aliases_file",
	[CONF_LOCAL_DOMAINS] = "local_domains",
	[CONF_DOMAIN] = "domain",
	[CONF_MAIL_ROOT] = "mail_root",
	[CONF_RECIPIENT_DELIMITER] = "recipient_delimiter",
	[CONF_ALLOW_MAIL_TO_COMMANDS] = "allow_mail_to_commands",
	[CONF_ALLOW_MAIL_TO_FILES] = "allow_mail_to_files",
	[CONF_AUTH_FAILURE_DELAY] = "auth_failure_delay",
	[CONF_QUEUE_DIR] = "queue_dir",
	[CONF_MAX_MESSAGE_SIZE] = "max_message_size",
	[CONF_RELAY_FROM] = "relay_from",
	[CONF_TLS_CERT] = "tls_cert",
	[CONF_TLS_KEY] = "tls_key",
	[CONF_DELIVERY_COMMAND] = "delivery_command",
	[CONF_RETRY_MIN] = "retry_min",
	[CONF_RETRY_MAX] = "retry_max",
	[CONF_QUEUE_LIFETIME] = "queue_lifetime",
	[CONF_DELAY_WARNING] = "delay_warning",
	[CONF_RELAYHOST] = "relayhost",
	[CONF_RELAY_AUTH_FILE] = "relay_auth_file",
	[CONF_ROUTES] = "routes",
	[CONF_SMTP_TLS] = "smtp_tls",
	[CONF_TLS_CA_FILE] = "tls_ca_file",
	[CONF_MTA_STS] = "mta_sts",
	[CONF_DELIVERY_USER] = "delivery_user",
	[CONF_FILTER] = "filter",
	[CONF_SPAM_DATABASE] = "spam_database",
	[CONF_FILTER_RULES] = "filter_rules",
	[CONF_DNSBL] = "dnsbl",
	[CONF_DNS_SERVER] = "dns_server",
	[CONF_CLAMD_SOCKET] = "clamd_socket",
	[CONF_VIRUS_OPTIONAL] = "virus_optional",
	[CONF_REJECT_VIRUS] = "reject_virus",
	[CONF_SPAM_CUTOFF] = "spam_cutoff",
	[CONF_HAM_CUTOFF] = "ham_cutoff",
};

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

static int parse_line(struct conf *c, char *line, int lineno, struct err *e)
{
	char *eq, *key, *val;
	int k;

	line = trim(line);
	if (line[0] == '\0' || line[0] == '#')
		return 0;
	eq = strchr(line, '=');
	if (eq == NULL)
		return err_set(e, EX_CONFIG, "%s:%d: expected key = value", c->path, lineno);
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	for (k = 0; k < CONF_NKEYS; k++)
		if (strcmp(key, names[k]) == 0)
			break;
	if (k == CONF_NKEYS)
		return err_set(e, EX_CONFIG, "%s:%d: unknown key %.64s", c->path, lineno, key);
	free(c->value[k]);
	c->value[k] = strdup(val);
	if (c->value[k] == NULL)
		return err_set(e, EX_TEMPFAIL, "out of memory");
	return 0;
}

int conf_load(struct conf *c, const char *path, struct err *e)
{
	char line[CONF_LINE_MAX];
	FILE *f;
	int required = 1, lineno = 0, rc = 0;

	memset(c, 0, sizeof *c);
	if (path == NULL)
		path = getenv("MAIL_CONF");
	if (path == NULL || path[0] == '\0') {
		path = SYSCONFDIR "/mail.conf";
		required = 0;
	}
	if (snprintf(c->path, sizeof c->path, "%s", path) >= (int)sizeof c->path)
		return err_set(e, EX_CONFIG, "configuration path too long");
	f = fopen(path, "re");
	if (f == NULL) {
		if (!required && errno == ENOENT) {
			c->path[0] = '\0';
			return 0;
		}
		return err_sys(e, EX_CONFIG, "unable to open %s", path);
	}
	while (fgets(line, sizeof line, f) != NULL) {
		size_t n = strlen(line);
		if (++lineno > CONF_FILE_MAX) {
			rc = err_set(e, EX_CONFIG, "%s: more than %d lines", path, CONF_FILE_MAX);
			break;
		}
		if (n == sizeof line - 1 && line[n - 1] != '\n') {
			rc = err_set(e, EX_CONFIG, "%s:%d: line too long", path, lineno);
			break;
		}
		if (parse_line(c, line, lineno, e) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f))
		rc = err_sys(e, EX_CONFIG, "unable to read %s", path);
	fclose(f);
	if (rc < 0)
		conf_free(c);
	return rc;
}

const char *conf_get(const struct conf *c, enum conf_key key, const char *def)
{
	return c->value[key] != NULL ? c->value[key] : def;
}

int conf_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || n > max)
		return -1;
	*out = n;
	return 0;
}

int conf_get_uint(const struct conf *c, enum conf_key key, unsigned long def,
                  unsigned long max, unsigned long *out, struct err *e)
{
	const char *v = c->value[key];

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (conf_parse_uint(v, max, out) < 0)
		return err_set(e, EX_CONFIG, "%s: %s must be a number from 0 to %lu",
		               c->path, names[key], max);
	return 0;
}

int conf_get_bool(const struct conf *c, enum conf_key key, int def, int *out,
                  struct err *e)
{
	const char *v = c->value[key];

	if (v == NULL)
		*out = def;
	else if (strcmp(v, "yes") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0)
		*out = 0;
	else
		return err_set(e, EX_CONFIG, "%s: %s must be yes or no", c->path, names[key]);
	return 0;
}

int conf_get_ms(const struct conf *c, enum conf_key key, unsigned long def,
                unsigned long *out, struct err *e)
{
	const char *v = c->value[key];
	unsigned long whole = 0, frac = 0, scale = 1000;
	const char *p = v;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	for (; *p >= '0' && *p <= '9' && whole < 1000000; p++)
		whole = whole * 10 + (unsigned long)(*p - '0');
	if (p != v && *p == '.')   /* a digit must come first: "." is no number */
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (scale > 1) {
				scale /= 10;
				frac += (unsigned long)(*p - '0') * scale;
			}
	if (p == v || *p != '\0' || whole >= 1000000)
		return err_set(e, EX_CONFIG, "%s: %s must be a number of seconds, such as 2 or 0.5",
		               c->path, names[key]);
	*out = whole * 1000 + frac;
	return 0;
}

int conf_get_duration(const struct conf *c, enum conf_key key, unsigned long def,
                      unsigned long *out, struct err *e)
{
	static const char units[] = "smhdw";
	static const unsigned long scale[] = { 1, 60, 3600, 86400, 604800 };
	const char *v = c->value[key], *p = v, *u;
	unsigned long n = 0;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	for (; *p >= '0' && *p <= '9' && n < 100000000; p++)
		n = n * 10 + (unsigned long)(*p - '0');
	u = *p ? strchr(units, *p) : units;
	if (p == v || u == NULL || (*p && p[1] != '\0') || n >= 100000000)
		return err_set(e, EX_CONFIG, "%s: %s must be a duration, such as 300, 5m, 4h or 5d",
		               c->path, names[key]);
	*out = n * scale[u - units];
	return 0;
}

void conf_free(struct conf *c)
{
	for (int k = 0; k < CONF_NKEYS; k++) {
		free(c->value[k]);
		c->value[k] = NULL;
	}
}
