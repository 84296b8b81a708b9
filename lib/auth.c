#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sysexits.h>
#include <time.h>

#include "auth.h"
#include "base64.h"
#include "sha256.h"
#include "users.h"

#define DELAY_MAX_MS 30000UL

/* Checked when the login names no account, so that a wrong user costs as
 * much time as a wrong password and cannot be told apart by timing. */
static const char dummy_hash[] =
	"$y$j9T$kX3C9dQy7RfVwJz1Lp0aN/$.ZCIw9EwI4WR2MBMn/CGy1Fs4dN7fzwpIEaQ1Oue184";

void auth_init(struct auth *a, const char *users_file, const char *realm,
               unsigned long delay_ms)
{
	memset(a, 0, sizeof *a);
	a->users_file = users_file;
	a->realm = realm;
	a->delay_ms = delay_ms;
}

enum auth_mech auth_mech_named(const char *name)
{
	if (strcasecmp(name, "PLAIN") == 0)
		return AUTH_PLAIN;
	if (strcasecmp(name, "LOGIN") == 0)
		return AUTH_LOGIN;
	if (strcasecmp(name, "SCRAM-SHA-256") == 0)
		return AUTH_SCRAM_SHA_256;
	return AUTH_NONE;
}

void auth_start(struct auth *a, enum auth_mech mech)
{
	const char *nonce = a->test_nonce;

	auth_end(a);
	a->user[0] = '\0';
	a->mech = mech;
	a->step = 0;
	a->test_nonce = nonce;
}

void auth_delay(struct auth *a)
{
	unsigned long ms = a->delay_ms;
	struct timespec ts;
	unsigned i;

	for (i = 0; i < a->failures && ms < DELAY_MAX_MS; i++)
		ms *= 2;
	if (ms > DELAY_MAX_MS)
		ms = DELAY_MAX_MS;
	a->failures++;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void auth_end(struct auth *a)
{
	explicit_bzero(a->login_user, sizeof a->login_user);
	explicit_bzero(&a->keys, sizeof a->keys);
	explicit_bzero(a->client_first_bare, sizeof a->client_first_bare);
	explicit_bzero(a->server_first, sizeof a->server_first);
	explicit_bzero(a->nonce, sizeof a->nonce);
	explicit_bzero(a->gs2, sizeof a->gs2);
	a->why[0] = '\0';
	a->scram_ok = 0;
	a->mech = AUTH_NONE;
}

int auth_password(const char *users_file, const char *realm, const char *login,
                  const char *password, char *user, struct err *e)
{
	char name[ADDR_MAX + 2];
	struct user u;
	int rc, found;

	(void)addr_qualify(login, realm, name, sizeof name);   /* cut: no such user */
	found = users_lookup(users_file, name, &u, NULL, e);
	if (found < 0)
		return -1;
	if (found == 0) {
		(void)passwd_verify(password, dummy_hash, e);
		err_set(e, EX_NOPERM, "unknown user %.100s", name);
		return 0;
	}
	if (passwd_locked(u.hash)) {
		/* as slow as a real check all the same */
		(void)passwd_verify(password, dummy_hash, e);
		err_set(e, EX_NOPERM, "%s has no password", u.address);
		rc = 0;
	} else {
		rc = passwd_verify(password, u.hash, e);
		if (rc == 1 && u.disabled) {
			err_set(e, EX_NOPERM, "account %s is disabled", u.address);
			rc = 0;
		} else if (rc == 0) {
			err_set(e, EX_NOPERM, "wrong password for %s", u.address);
		}
	}
	if (rc == 1)
		snprintf(user, ADDR_MAX + 1, "%s", u.address);
	user_free(&u);
	return rc;
}

static enum auth_status failed(struct auth *a)
{
	a->user[0] = '\0';
	auth_delay(a);
	auth_end(a);
	return AUTH_FAIL;
}

static enum auth_status fail(struct auth *a, struct err *e, const char *reason)
{
	err_set(e, EX_NOPERM, "%s", reason);
	return failed(a);
}

static enum auth_status check(struct auth *a, const char *login, const char *password,
                              struct err *e)
{
	int rc = auth_password(a->users_file, a->realm, login, password, a->user, e);

	if (rc < 0) {
		auth_end(a);
		return AUTH_TEMPFAIL;
	}
	if (rc == 0)
		return failed(a);
	auth_end(a);
	return AUTH_OK;
}

/* PLAIN: [authzid] NUL authcid NUL passwd (RFC 4616). */
static enum auth_status step_plain(struct auth *a, const unsigned char *in, size_t n,
                                   int have, unsigned char *out, size_t *outlen,
                                   struct err *e)
{
	char buf[AUTH_MSG_MAX + 1], *authzid, *authcid, *pass;
	const unsigned char *nul1, *nul2;
	enum auth_status st;

	(void)out;
	if (!have) {
		*outlen = 0;   /* an empty challenge asks for the message */
		return AUTH_CONTINUE;
	}
	nul1 = memchr(in, '\0', n);
	nul2 = nul1 ? memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - in)) : NULL;
	if (nul2 == NULL || memchr(nul2 + 1, '\0', n - (size_t)(nul2 + 1 - in)) != NULL)
		return fail(a, e, "malformed PLAIN message");
	memcpy(buf, in, n);
	buf[n] = '\0';
	authzid = buf;
	authcid = buf + (nul1 - in) + 1;
	pass = buf + (nul2 - in) + 1;
	if (strlen(authzid) > 255 || strlen(authcid) > 255 || strlen(pass) > PASSWD_MAX) {
		explicit_bzero(buf, sizeof buf);
		return fail(a, e, "PLAIN field too long");
	}
	if (authzid[0] != '\0' && strcasecmp(authzid, authcid) != 0) {
		explicit_bzero(buf, sizeof buf);
		err_set(e, EX_NOPERM, "authorization identity differs from %.100s", authcid);
		return failed(a);
	}
	st = check(a, authcid, pass, e);
	explicit_bzero(buf, sizeof buf);
	return st;
}

static enum auth_status step_login(struct auth *a, const unsigned char *in, size_t n,
                                   int have, unsigned char *out, size_t *outlen,
                                   struct err *e)
{
	char pass[PASSWD_MAX + 1];
	enum auth_status st;

	if (a->step == 0 && !have) {
		a->step = 1;
		memcpy(out, "Username:", *outlen = 9);
		return AUTH_CONTINUE;
	}
	if (a->step <= 1) {
		if (n > ADDR_MAX || memchr(in, '\0', n) != NULL)
			return fail(a, e, "malformed LOGIN user name");
		memcpy(a->login_user, in, n);
		a->login_user[n] = '\0';
		a->step = 2;
		memcpy(out, "Password:", *outlen = 9);
		return AUTH_CONTINUE;
	}
	if (n > PASSWD_MAX || memchr(in, '\0', n) != NULL)
		return fail(a, e, "malformed LOGIN password");
	memcpy(pass, in, n);
	pass[n] = '\0';
	st = check(a, a->login_user, pass, e);
	explicit_bzero(pass, sizeof pass);
	return st;
}

/* A saslname (RFC 5802): ',' written =2C and '=' written =3D. */
static int saslname_decode(const char *s, size_t n, char *out, size_t outsz)
{
	size_t o = 0, i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '=') {
			if (i + 2 < n && strncmp(s + i, "=2C", 3) == 0)
				c = ',';
			else if (i + 2 < n && strncmp(s + i, "=3D", 3) == 0)
				c = '=';
			else
				return -1;
			i += 2;
		} else if (c == ',' || c == '\0') {
			return -1;
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return o > 0 ? 0 : -1;
}

/* Unknown users get a salt derived from their name, so that the answer
 * looks the same each time and does not reveal that the user is absent. */
static void fake_keys(struct auth *a, const char *user)
{
	unsigned char h[SHA256_LEN];

	sha256(user, strlen(user), h);
	memset(&a->keys, 0, sizeof a->keys);
	memcpy(a->keys.salt, h, SCRAM_SALT_LEN);
	a->keys.saltlen = SCRAM_SALT_LEN;
	a->keys.iterations = SCRAM_ITERATIONS;
	a->scram_ok = 0;
}

static enum auth_status scram_first(struct auth *a, const char *msg, size_t n,
                                    unsigned char *out, size_t *outlen, struct err *e)
{
	char user[ADDR_MAX + 1], authzid[ADDR_MAX + 1], salt64[BASE64_ENCODED_SIZE(64)];
	const char *p = msg, *end = msg + n, *bare, *nonce, *comma;
	unsigned char rnd[18];
	struct user u;
	int found;

	/* gs2-header: cbind-flag "," [ "a=" saslname ] "," */
	if (n < 3 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',') {
		if (n > 0 && p[0] == 'p')
			return fail(a, e, "channel binding is not supported");
		return fail(a, e, "malformed SCRAM client-first message");
	}
	p += 2;
	authzid[0] = '\0';
	if (p[0] == 'a' && p + 1 < end && p[1] == '=') {
		comma = memchr(p, ',', (size_t)(end - p));
		if (comma == NULL || saslname_decode(p + 2, (size_t)(comma - p - 2), authzid, sizeof authzid) < 0)
			return fail(a, e, "malformed SCRAM authorization identity");
		p = comma;
	}
	if (p >= end || *p != ',')
		return fail(a, e, "malformed SCRAM client-first message");
	p++;
	snprintf(a->gs2, sizeof a->gs2, "%.*s", (int)(p - msg), msg);
	bare = p;
	/* client-first-message-bare: "n=" saslname ",r=" nonce ["," ext] */
	if (end - p < 2 || strncmp(p, "n=", 2) != 0 ||
	    (comma = memchr(p, ',', (size_t)(end - p))) == NULL ||
	    saslname_decode(p + 2, (size_t)(comma - p - 2), user, sizeof user) < 0)
		return fail(a, e, "malformed SCRAM user name");
	p = comma + 1;
	if (end - p < 3 || strncmp(p, "r=", 2) != 0)
		return fail(a, e, "SCRAM client-first message without nonce");
	nonce = p + 2;
	comma = memchr(nonce, ',', (size_t)(end - nonce));
	if (comma != NULL && comma + 1 < end && comma[1] == 'm')
		return fail(a, e, "unsupported mandatory SCRAM extension");
	{
		size_t nlen = comma ? (size_t)(comma - nonce) : (size_t)(end - nonce);

		for (size_t i = 0; i < nlen; i++)
			if (nonce[i] < 0x21 || nonce[i] > 0x7e || nonce[i] == ',')
				return fail(a, e, "malformed SCRAM nonce");
		if (nlen == 0)
			return fail(a, e, "empty SCRAM nonce");
		snprintf(a->nonce, sizeof a->nonce, "%.*s", (int)nlen, nonce);
	}
	if (authzid[0] != '\0' && strcasecmp(authzid, user) != 0)
	{
		err_set(e, EX_NOPERM, "authorization identity differs from %.100s", user);
		return failed(a);
	}
	snprintf(a->client_first_bare, sizeof a->client_first_bare, "%.*s", (int)(end - bare), bare);

	{
		char name[ADDR_MAX + 2];

		(void)addr_qualify(user, a->realm, name, sizeof name);
		found = users_lookup(a->users_file, name, &u, NULL, e);
	}
	if (found < 0) {
		auth_end(a);
		return AUTH_TEMPFAIL;
	}
	if (found && u.scram != NULL && !u.disabled && scram_keys_parse(u.scram, &a->keys) == 0) {
		a->scram_ok = 1;
		snprintf(a->user, sizeof a->user, "%s", u.address);
	} else {
		fake_keys(a, user);
		snprintf(a->why, sizeof a->why, found ? (u.disabled ? "account %s is disabled" :
		         "%s has no SCRAM keys (set its password again)") : "unknown user %.100s", user);
	}
	if (found)
		user_free(&u);
	if (a->test_nonce != NULL) {
		snprintf(a->nonce + strlen(a->nonce), sizeof a->nonce - strlen(a->nonce), "%s", a->test_nonce);
	} else {
		char r64[BASE64_ENCODED_SIZE(sizeof rnd)];

		if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
			err_sys(e, EX_TEMPFAIL, "getrandom");
			auth_end(a);
			return AUTH_TEMPFAIL;
		}
		base64_encode(rnd, sizeof rnd, r64);
		snprintf(a->nonce + strlen(a->nonce), sizeof a->nonce - strlen(a->nonce), "%s", r64);
	}
	base64_encode(a->keys.salt, a->keys.saltlen, salt64);
	*outlen = (size_t)snprintf(a->server_first, sizeof a->server_first, "r=%s,s=%s,i=%lu",
	                           a->nonce, salt64, a->keys.iterations);
	if (*outlen >= sizeof a->server_first || *outlen > AUTH_MSG_MAX)
		return fail(a, e, "SCRAM nonce too long");
	memcpy(out, a->server_first, *outlen);
	a->step = 1;
	return AUTH_CONTINUE;
}

/* HMAC(key, AuthMessage), where AuthMessage is client-first-message-bare
 * "," server-first-message "," client-final-message-without-proof (the n
 * bytes of final). */
static void auth_message_hmac(const struct auth *a, const unsigned char *key,
                              const char *final, size_t n, unsigned char out[SHA256_LEN])
{
	struct hmac_sha256 hm;

	hmac_sha256_init(&hm, key, SHA256_LEN);
	hmac_sha256_update(&hm, a->client_first_bare, strlen(a->client_first_bare));
	hmac_sha256_update(&hm, ",", 1);
	hmac_sha256_update(&hm, a->server_first, strlen(a->server_first));
	hmac_sha256_update(&hm, ",", 1);
	hmac_sha256_update(&hm, final, n);
	hmac_sha256_final(&hm, out);
}

static enum auth_status scram_final(struct auth *a, const char *msg, size_t n,
                                    unsigned char *out, size_t *outlen, struct err *e)
{
	char cb64[BASE64_ENCODED_SIZE(sizeof a->gs2)], v64[BASE64_ENCODED_SIZE(SHA256_LEN)];
	const char *proof, *end = msg + n, *p;
	unsigned char got[SHA256_LEN], sig[SHA256_LEN], key[SHA256_LEN], h[SHA256_LEN];
	size_t cblen, i;

	/* client-final-message: "c=" base64(gs2) ",r=" nonce ["," ext] ",p=" proof */
	cblen = base64_encode(a->gs2, strlen(a->gs2), cb64);
	if ((size_t)(end - msg) < 2 + cblen + 1 || strncmp(msg, "c=", 2) != 0 ||
	    strncmp(msg + 2, cb64, cblen) != 0 || msg[2 + cblen] != ',')
		return fail(a, e, "SCRAM channel binding data does not match");
	p = msg + 2 + cblen + 1;
	if ((size_t)(end - p) < 2 + strlen(a->nonce) || strncmp(p, "r=", 2) != 0 ||
	    strncmp(p + 2, a->nonce, strlen(a->nonce)) != 0 ||
	    (p + 2 + strlen(a->nonce) < end && p[2 + strlen(a->nonce)] != ','))
		return fail(a, e, "SCRAM nonce does not match");
	for (proof = NULL, p = msg; p + 3 <= end; p++)
		if (strncmp(p, ",p=", 3) == 0)
			proof = p;
	if (proof == NULL || base64_decode(proof + 3, (size_t)(end - proof - 3), got, sizeof got) != SHA256_LEN)
		return fail(a, e, "malformed SCRAM proof");
	auth_message_hmac(a, a->keys.stored_key, msg, (size_t)(proof - msg), sig);
	for (i = 0; i < SHA256_LEN; i++)
		key[i] = got[i] ^ sig[i];
	sha256(key, sizeof key, h);
	explicit_bzero(key, sizeof key);
	if (!passwd_memeq(h, a->keys.stored_key, SHA256_LEN) || !a->scram_ok) {
		if (a->scram_ok)
			err_set(e, EX_NOPERM, "wrong password for %s", a->user);
		else
			err_set(e, EX_NOPERM, "%s", a->why);
		return failed(a);
	}
	auth_message_hmac(a, a->keys.server_key, msg, (size_t)(proof - msg), sig);
	base64_encode(sig, sizeof sig, v64);
	*outlen = (size_t)snprintf((char *)out, AUTH_MSG_MAX, "v=%s", v64);
	a->step = 2;
	return AUTH_CONTINUE;
}

enum auth_status auth_step(struct auth *a, const unsigned char *in, size_t n,
                           int have, unsigned char *out, size_t *outlen,
                           struct err *e)
{
	*outlen = 0;
	if (n > AUTH_MSG_MAX)
		return fail(a, e, "SASL message too long");
	switch (a->mech) {
	case AUTH_PLAIN:
		return step_plain(a, in, n, have, out, outlen, e);
	case AUTH_LOGIN:
		return step_login(a, in, n, have, out, outlen, e);
	case AUTH_SCRAM_SHA_256:
		if (a->step == 0 && !have)
			return AUTH_CONTINUE;   /* empty challenge: the client speaks first */
		if (memchr(in, '\0', n) != NULL)
			return fail(a, e, "NUL in SCRAM message");
		if (a->step == 0)
			return scram_first(a, (const char *)in, n, out, outlen, e);
		if (a->step == 1)
			return scram_final(a, (const char *)in, n, out, outlen, e);
		if (n != 0)
			return fail(a, e, "unexpected data after SCRAM server-final message");
		auth_end(a);
		return AUTH_OK;
	case AUTH_NONE:
		break;
	}
	return fail(a, e, "no mechanism started");
}
