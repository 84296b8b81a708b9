/* conf: the one optional configuration file all programs share.
 *
 * mail.conf holds "key = value" lines; blank lines and lines starting with
 * '#' are ignored. Every key any program knows is listed in conf.c, so a
 * misspelt key is an error (EX_CONFIG) with its line number instead of a
 * setting silently ignored. Command-line flags override the file. */
#ifndef CONF_H
#define CONF_H

#include "err.h"

#ifndef SYSCONFDIR   /* set by the build; this is for builds outside it */
#define SYSCONFDIR "/etc"
#endif

enum conf_key {
	CONF_HOSTNAME,
	CONF_HOME_MAILBOX,
	CONF_LOCK_TIMEOUT,
	CONF_USERS_FILE,
	CONF_ALIASES_FILE,
	CONF_LOCAL_DOMAINS,
	CONF_DOMAIN,
	CONF_MAIL_ROOT,
	CONF_RECIPIENT_DELIMITER,
	CONF_ALLOW_MAIL_TO_COMMANDS,
	CONF_ALLOW_MAIL_TO_FILES,
	CONF_AUTH_FAILURE_DELAY,
	CONF_QUEUE_DIR,
	CONF_MAX_MESSAGE_SIZE,
	CONF_RELAY_FROM,
	CONF_TLS_CERT,
	CONF_TLS_KEY,
	CONF_DELIVERY_COMMAND,
	CONF_RETRY_MIN,
	CONF_RETRY_MAX,
	CONF_QUEUE_LIFETIME,
	CONF_DELAY_WARNING,
	CONF_RELAYHOST,
	CONF_RELAY_AUTH_FILE,
	CONF_ROUTES,
	CONF_SMTP_TLS,
	CONF_TLS_CA_FILE,
	CONF_MTA_STS,
	CONF_DELIVERY_USER,
	CONF_FILTER,
	CONF_SPAM_DATABASE,
	CONF_FILTER_RULES,
	CONF_DNSBL,
	CONF_DNS_SERVER,
	CONF_CLAMD_SOCKET,
	CONF_VIRUS_OPTIONAL,
	CONF_REJECT_VIRUS,
	CONF_SPAM_CUTOFF,
	CONF_HAM_CUTOFF,
	CONF_NKEYS
};

struct conf {
	char *value[CONF_NKEYS];   /* NULL when not set */
	char path[4096];           /* the file read, "" when none */
};

/* Load the file at path; when path is NULL use $MAIL_CONF, and when that is
 * unset the default SYSCONFDIR/mail.conf, which may be absent. A file named
 * by flag or environment must exist. Returns 0, or -1 with e set. */
int conf_load(struct conf *c, const char *path, struct err *e);

/* The value of key, or def when unset. */
const char *conf_get(const struct conf *c, enum conf_key key, const char *def);

/* s as a decimal number no larger than max into *out. Returns 0, or -1
 * when it is not one (a sign, blanks or anything after the digits). */
int conf_parse_uint(const char *s, unsigned long max, unsigned long *out);

/* The value of key as a non-negative integer no larger than max, or def
 * when unset. Returns 0, or -1 with e set (EX_CONFIG) on a bad value. */
int conf_get_uint(const struct conf *c, enum conf_key key, unsigned long def,
                  unsigned long max, unsigned long *out, struct err *e);

/* The value of a yes/no key into *out, def when unset. Returns 0, or -1
 * with e set (EX_CONFIG) for anything but yes or no. */
int conf_get_bool(const struct conf *c, enum conf_key key, int def, int *out,
                  struct err *e);

/* The value of key, a number of seconds with up to three decimals, in
 * milliseconds into *out; def when unset. Returns 0, or -1 with e set
 * (EX_CONFIG). */
int conf_get_ms(const struct conf *c, enum conf_key key, unsigned long def,
                unsigned long *out, struct err *e);

/* The value of key, a duration: a number with an optional unit s, m, h, d
 * or w (seconds when none), in seconds into *out; def when unset. Returns
 * 0, or -1 with e set (EX_CONFIG). */
int conf_get_duration(const struct conf *c, enum conf_key key, unsigned long def,
                      unsigned long *out, struct err *e);

void conf_free(struct conf *c);

#endif
