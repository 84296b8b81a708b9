/* mail-send: what its parts share. main.c reads flags and mail.conf into a
 * struct send_config and runs one mode: inject.c (sendmail), runner.c (the
 * queue runner), which hands recipients to local.c (mail-store and alias
 * targets) and remote.c (SMTP through libcurl, MTA-STS policies from
 * mtasts.c), and dsn.c (bounces). */
#ifndef SEND_H
#define SEND_H

#include <stddef.h>

#include "alias.h"
#include "cli.h"
#include "conf.h"
#include "queue.h"
#include "run.h"

#define MAX_ROUTES 64
#define DELIVERY_WORDS_MAX 64            /* in delivery_command */

struct route {
	char *domain;            /* lower case, or "*" for every domain */
	char *host;              /* host or [address] */
	char *port;              /* "" for 25 */
};

struct send_config {
	struct conf conf;
	struct resolver resolver;
	const char *queue_dir;
	const char *hostname;
	const char *domain;              /* for bare names and the default sender */
	const char *mail_root;
	char **delivery;                 /* delivery_command split, or NULL */
	char *delivery_buf;              /* the words of delivery */
	const char *mail_store;          /* the mail-store program */
	const char *mail_filter;         /* mail-filter, run before it; NULL: not */
	unsigned long retry_min, retry_max, lifetime, delay_warning;   /* seconds */
	struct route routes[MAX_ROUTES];
	size_t nroutes;
	const char *relayhost;           /* smtp[s]://host[:port], or NULL */
	const char *relay_auth_file;
	const char *smtp_tls;            /* "may" (default), "encrypt" or "verify" */
	const char *ca_file;
	int mta_sts;                     /* use MTA-STS policies */
	const struct run_as *delivery_as;   /* delivery_user, or NULL */
	int flush;                       /* ignore the retry times */
	unsigned jobs;
	int verbose;
};

/* Outcome of one delivery attempt to one target. */
struct outcome {
	enum queue_status st;            /* QS_DELIVERED, QS_DEFERRED or QS_FAILED */
	char text[600];                  /* "CODE reason", e.g. "5.1.1 mx[192.0.2.1] said:
	                                    550 ... (in reply to RCPT TO)" */
};



/* The --help text, on stdout. */
void usage(void);

/* inject.c: the sendmail interface. Returns the exit code. */
int inject_main(struct send_config *c, int argc, char **argv);

/* runner.c: the queue runner, one run (--run) or resident (--daemon).
 * Returns the exit code. */
int runner_run(struct send_config *c, int daemon);
/* Write the queue listing to stdout (mailq). Returns the exit code. */
int runner_list(struct send_config *c);

/* local.c: deliver the message of f to the local target t for envelope
 * recipient rcpt. */
void local_deliver(struct send_config *c, const struct queue_file *f, const char *rcpt,
                   const struct target *t, struct outcome *o);

/* remote.c: deliver f to the n addresses of one domain, each outcome
 * into its r[i].o. */
struct remote_rcpt {
	const char *address;
	struct outcome *o;
};
void remote_deliver(struct send_config *c, const struct queue_file *f, const char *domain,
                    struct remote_rcpt *r, size_t n);
void remote_global_init(void);

/* The route for domain: an exact match, else "*", else NULL. */
const struct route *route_for(const struct send_config *c, const char *domain);

/* mtasts.c: the MTA-STS policy of a domain (RFC 8461). */
#define STS_MX_MAX 16
enum { STS_NONE, STS_TESTING, STS_ENFORCE };
struct sts_policy {
	int mode;
	char mx[STS_MX_MAX][256];   /* patterns: host or *.domain */
	int nmx;
	long max_age;
};
/* Returns 1 with p filled when domain has a policy (fetched or cached),
 * else 0; problems are logged, never fatal. */
int mtasts_policy(struct send_config *c, const char *domain, struct sts_policy *p);
/* Does host match one of p's mx patterns? */
int mtasts_matches(const struct sts_policy *p, const char *host);

/* dsn.c: queue a delivery status notification to the sender of f about
 * the n recipients of idx (indexes into f's envelope, with their state in
 * s): action "failed", "delayed" or "delivered". Sets id (QUEUE_ID_MAX).
 * Returns 0, or -1 with e set. */
int dsn_queue(struct send_config *c, const struct queue_file *f,
              const struct queue_state *s, const size_t *idx, size_t n,
              const char *action, char *id, struct err *e);

#endif
