/* dnsbl: ask DNS blocklists (RFC 5782) whether the client IP of a message
 * is listed, for mail-filter's --dnsbl. All zones are asked at once over
 * one UDP socket, under one deadline for the lot.
 *
 * A blocklist is advice: nothing here fails a message. A zone that times
 * out, answers SERVFAIL or garbage, or answers with its own error code
 * (Spamhaus's 127.255.255.x) counts as not listed and carries a reason for
 * the caller's log. Only bad configuration, a bad IP or a socket that
 * cannot be opened make dnsbl_lookup fail. */
#ifndef DNSBL_H
#define DNSBL_H

#include <sys/socket.h>

#include "err.h"

#define DNSBL_MAX_ZONES 20
#define DNSBL_DEFAULT_SCORE 3.0
#define DNSBL_DEFAULT_TIMEOUT_MS 3000
/* the longest zone: room left for an IPv6 address's 64 characters */
#define DNSBL_ZONE_MAX 189
/* room for a reversed address (IPv6: 32 nibbles and their dots) */
#define DNSBL_REV_SIZE 72

struct dnsbl_zone {
	char name[DNSBL_ZONE_MAX + 1];   /* lower case, no trailing dot */
	double score;
};

struct dnsbl_list {
	struct dnsbl_zone zone[DNSBL_MAX_ZONES];
	size_t n;
};

/* Parse "zone[=score],zone[=score] ..." (commas or blanks separate; a
 * score is a decimal such as 2, -1.5 or .5, at most 100 either way; the
 * default DNSBL_DEFAULT_SCORE) into l. An empty or blank text gives no
 * zones. Returns 0, or -1 with e set (EX_CONFIG) for a bad name or score,
 * a zone given twice, or more than DNSBL_MAX_ZONES zones. */
int dnsbl_parse(const char *text, struct dnsbl_list *l, struct err *e);

/* The name for ip under a blocklist: its octets (IPv4) or 32 nibbles
 * (IPv6) reversed, "1.2.0.192" for 192.0.2.1, into rev (size revsz, at
 * least DNSBL_REV_SIZE). ip is the text of an IPv4 or IPv6 address; an
 * "IPv6:" prefix and a "%scope" suffix are allowed, and an IPv4-mapped
 * ::ffff:a.b.c.d is taken as a.b.c.d. Returns 1 with rev set; 0 for an
 * address no public list holds (loopback, RFC 1918, CGNAT 100.64/10,
 * link-local, unspecified, multicast, reserved, ::1, fc00::/7,
 * fe80::/10), rev empty; -1 with e set (EX_DATAERR) when ip is no
 * address. */
int dnsbl_reverse(const char *ip, char *rev, size_t revsz, struct err *e);

/* "rev.zone" into out (size outsz). Returns 0, or -1 when it does not fit
 * or is longer than a DNS name may be. */
int dnsbl_query_name(const char *rev, const char *zone, char *out, size_t outsz);

/* The name server to ask. */
struct dnsbl_server {
	struct sockaddr_storage addr;
	socklen_t len;
	char text[64];                   /* "IP" or "[IP]:PORT", for messages */
};

/* Set s from text: "IP", "IP:PORT", "[IPv6]:PORT" or a bare IPv6 address
 * (port 53 unless given). NULL or "" takes the first nameserver of
 * /etc/resolv.conf, as res_ninit(3) reads it. Returns 0, or -1 with e set:
 * EX_CONFIG for a malformed text (names are refused: a resolver is not
 * found by asking one), EX_TEMPFAIL when resolv.conf cannot be read. */
int dnsbl_server(const char *text, struct dnsbl_server *s, struct err *e);

enum dnsbl_status {
	DNSBL_NOT_LISTED = 0,   /* NXDOMAIN, no A record, or not asked */
	DNSBL_LISTED,           /* an A record in 127.0.0.0/8 */
	DNSBL_FAILED            /* no usable answer: counts as not listed */
};

struct dnsbl_result {
	enum dnsbl_status status;
	char answer[16];        /* LISTED: the first listing A record */
	char reason[128];       /* FAILED: why ("timed out", "SERVFAIL",
	                           "list error code 127.255.255.254", ...) */
};

/* Ask every zone of l about ip, through server, waiting timeout_ms in all
 * (0: DNSBL_DEFAULT_TIMEOUT_MS); a query still unanswered at each third
 * of it is sent again. res has room for l->n results, filled in the order
 * of l. Returns 1 when ip is an address no list holds (nothing sent, all
 * results DNSBL_NOT_LISTED), 0 when the zones were asked (each result
 * says how it went), -1 with e set: EX_DATAERR when ip is no address,
 * EX_TEMPFAIL when no socket can be opened. */
int dnsbl_lookup(const struct dnsbl_list *l, const char *ip,
	const struct dnsbl_server *server, unsigned timeout_ms,
	struct dnsbl_result *res, struct err *e);

/* The sum of the scores of the listed zones of res (l->n results). */
double dnsbl_points(const struct dnsbl_list *l, const struct dnsbl_result *res);

/* The client IP of the value (len bytes, folded or not) of a Received:
 * field that mail-recv wrote: "from HELO (HOST [IP]) ... by HOST
 * (mail-toolkit) ...". Other fields are not trusted: a sender can write
 * anything there. Copies the IP into ip (size ipsz) and returns 0;
 * returns -1 when the field is not mail-recv's or its IP is no address
 * (mail-recv writes "unknown" when it had none). */
int dnsbl_received_ip(const char *value, size_t len, char *ip, size_t ipsz);

#endif
