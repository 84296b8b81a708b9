/* The SASL engine: SCRAM-SHA-256 against the RFC 7677 test vector, PLAIN
 * and LOGIN exchanges, authzid rules, failures and their delay. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "base64.h"
#include "passwd.h"
#include "tap.h"

static char users[] = "/tmp/test-auth.XXXXXX";
static struct auth a;
static unsigned char out[AUTH_MSG_MAX + 1];
static size_t outlen;
static struct err e;

static enum auth_status step(const char *msg)
{
	enum auth_status st = auth_step(&a, (const unsigned char *)msg, msg ? strlen(msg) : 0,
	                                msg != NULL, out, &outlen, &e);

	out[outlen] = '\0';
	return st;
}

static enum auth_status step_n(const char *msg, size_t n)
{
	enum auth_status st = auth_step(&a, (const unsigned char *)msg, n, 1, out, &outlen, &e);

	out[outlen] = '\0';
	return st;
}

static void write_users(void)
{
	unsigned char salt[16];
	struct scram_keys k;
	char hash[PASSWD_HASH_MAX], s64[64], st64[64], sv64[64];
	FILE *f;
	int fd = mkstemp(users);

	/* The RFC 7677 user: password "pencil", this salt, 4096 iterations. */
	base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof salt);
	scram_keys_derive("pencil", salt, sizeof salt, 4096, &k);
	base64_encode(k.salt, k.saltlen, s64);
	base64_encode(k.stored_key, 32, st64);
	base64_encode(k.server_key, 32, sv64);
	passwd_hash("pencil", "sha512", hash, sizeof hash, &e);
	f = fdopen(fd, "w");
	fprintf(f, "user@example.org:%s:x/Maildir/:User::scram-sha-256=4096,%s,%s,%s\n",
	        hash, s64, st64, sv64);
	fprintf(f, "off@example.org:{PLAIN}pencil:x/Maildir/::: disabled=yes scram-sha-256=4096,%s,%s,%s\n",
	        s64, st64, sv64);
	fprintf(f, "nokeys@example.org:{PLAIN}pencil\n");
	fclose(f);
}

static void test_scram_vector(void)
{
	auth_init(&a, users, "example.org", 0);
	a.test_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
	auth_start(&a, auth_mech_named("scram-sha-256"));
	ok(step(NULL) == AUTH_CONTINUE && outlen == 0, "SCRAM: empty challenge without initial response");
	ok(step("n,,n=user,r=rOprNGfwEbeRWgbNEkqO") == AUTH_CONTINUE, "SCRAM: client-first accepted");
	is_str((char *)out, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	       "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "SCRAM: server-first as in RFC 7677");
	ok(step("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") == AUTH_CONTINUE,
	   "SCRAM: RFC 7677 proof accepted");
	is_str((char *)out, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	       "SCRAM: server signature as in RFC 7677");
	ok(step("") == AUTH_OK, "SCRAM: done after the client's empty response");
	is_str(a.user, "user@example.org", "SCRAM: authenticated as the account");

	auth_start(&a, AUTH_SCRAM_SHA_256);
	step("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
	ok(step("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	        "p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") == AUTH_FAIL, "SCRAM: wrong proof fails");
	ok(a.user[0] == '\0', "SCRAM: no user after a failure");
	ok(strstr(e.msg, "wrong password") != NULL, "SCRAM: reason logged (%s)", e.msg);

	auth_start(&a, AUTH_SCRAM_SHA_256);
	step("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
	ok(step("c=biws,r=rOprNGfwEbeRWgbNEkqOXX,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") ==
	   AUTH_FAIL, "SCRAM: a changed nonce fails");

	auth_start(&a, AUTH_SCRAM_SHA_256);
	ok(step("n,a=user,n=user,r=rOprNGfwEbeRWgbNEkqO") == AUTH_CONTINUE,
	   "SCRAM: authzid equal to the user is accepted");
	ok(step("c=bixhPXVzZXIs,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") == AUTH_FAIL,
	   "SCRAM: ... and the proof covers the GS2 header (old proof fails)");

	auth_start(&a, AUTH_SCRAM_SHA_256);
	ok(step("n,a=admin,n=user,r=abc") == AUTH_FAIL, "SCRAM: another authzid is refused");
	auth_start(&a, AUTH_SCRAM_SHA_256);
	ok(step("p=tls-unique,,n=user,r=abc") == AUTH_FAIL, "SCRAM: channel binding refused");
	auth_start(&a, AUTH_SCRAM_SHA_256);
	ok(step("n,,n=user,r=abc,m=ext") == AUTH_FAIL, "SCRAM: mandatory extension refused");
	auth_start(&a, AUTH_SCRAM_SHA_256);
	ok(step("n,,n=us=3Xer,r=abc") == AUTH_FAIL, "SCRAM: bad saslname escape refused");
	auth_start(&a, AUTH_SCRAM_SHA_256);
	ok(step("garbage") == AUTH_FAIL, "SCRAM: garbage refused");
}

static void test_scram_unknown(void)
{
	char first[AUTH_MSG_MAX + 1];

	auth_init(&a, users, "example.org", 0);
	a.test_nonce = "X";
	auth_start(&a, AUTH_SCRAM_SHA_256);
	ok(step("n,,n=ghost,r=abc") == AUTH_CONTINUE, "SCRAM: unknown user still gets a challenge");
	snprintf(first, sizeof first, "%s", (char *)out);
	ok(step("c=biws,r=abcX,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") == AUTH_FAIL,
	   "SCRAM: ... and fails at the proof");
	ok(strstr(e.msg, "unknown user") != NULL, "SCRAM: logged as unknown user (%s)", e.msg);
	auth_start(&a, AUTH_SCRAM_SHA_256);
	step("n,,n=ghost,r=abc");
	is_str((char *)out, first, "SCRAM: the same salt each time for an unknown user");
	auth_start(&a, AUTH_SCRAM_SHA_256);
	step("n,,n=off,r=abc");
	ok(step("c=biws,r=abcX,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") == AUTH_FAIL &&
	   strstr(e.msg, "disabled") != NULL, "SCRAM: disabled account fails (%s)", e.msg);
	auth_start(&a, AUTH_SCRAM_SHA_256);
	step("n,,n=nokeys,r=abc");
	ok(step("c=biws,r=abcX,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") == AUTH_FAIL &&
	   strstr(e.msg, "no SCRAM keys") != NULL, "SCRAM: account without keys fails (%s)", e.msg);
}

static void test_plain_login(void)
{
	auth_init(&a, users, "example.org", 0);
	auth_start(&a, auth_mech_named("PLAIN"));
	ok(step_n("\0user@example.org\0pencil", 24) == AUTH_OK, "PLAIN: right password");
	is_str(a.user, "user@example.org", "PLAIN: user");
	auth_start(&a, AUTH_PLAIN);
	ok(step_n("\0user\0pencil", 12) == AUTH_OK, "PLAIN: login without domain takes the realm");
	auth_start(&a, AUTH_PLAIN);
	ok(step(NULL) == AUTH_CONTINUE && outlen == 0, "PLAIN: empty challenge without initial response");
	ok(step_n("user@example.org\0user@example.org\0pencil", 40) == AUTH_OK,
	   "PLAIN: authzid equal to authcid accepted");
	auth_start(&a, AUTH_PLAIN);
	ok(step_n("admin@example.org\0user@example.org\0pencil", 41) == AUTH_FAIL,
	   "PLAIN: another authzid refused");
	auth_start(&a, AUTH_PLAIN);
	ok(step_n("\0user@example.org\0pencil!", 25) == AUTH_FAIL, "PLAIN: wrong password");
	auth_start(&a, AUTH_PLAIN);
	ok(step_n("\0ghost@example.org\0pencil", 25) == AUTH_FAIL, "PLAIN: unknown user");
	auth_start(&a, AUTH_PLAIN);
	ok(step_n("user@example.org pencil", 23) == AUTH_FAIL, "PLAIN: malformed message");
	auth_start(&a, AUTH_PLAIN);
	ok(step_n("\0user@example.org\0pencil\0", 25) == AUTH_FAIL, "PLAIN: extra NUL refused");
	auth_start(&a, AUTH_PLAIN);
	ok(step_n("\0off@example.org\0pencil", 23) == AUTH_FAIL && strstr(e.msg, "disabled"),
	   "PLAIN: disabled account refused (%s)", e.msg);
	auth_start(&a, AUTH_PLAIN);
	ok(step_n("\0nokeys@example.org\0pencil", 26) == AUTH_OK, "PLAIN: {PLAIN} hash");

	auth_start(&a, auth_mech_named("login"));
	ok(step(NULL) == AUTH_CONTINUE, "LOGIN: asks");
	is_str((char *)out, "Username:", "LOGIN: username challenge");
	ok(step("user@example.org") == AUTH_CONTINUE, "LOGIN: takes the user");
	is_str((char *)out, "Password:", "LOGIN: password challenge");
	ok(step("pencil") == AUTH_OK, "LOGIN: right password");
	auth_start(&a, AUTH_LOGIN);
	ok(step("user@example.org") == AUTH_CONTINUE, "LOGIN: initial response is the user");
	is_str((char *)out, "Password:", "LOGIN: then the password challenge");
	ok(step("nope") == AUTH_FAIL, "LOGIN: wrong password");
	ok(auth_mech_named("CRAM-MD5") == AUTH_NONE, "unknown mechanism");
}

static void test_delay(void)
{
	auth_init(&a, users, NULL, 1);
	auth_start(&a, AUTH_PLAIN);
	step_n("\0user@example.org\0x", 19);
	auth_start(&a, AUTH_PLAIN);
	step_n("\0user@example.org\0y", 19);
	ok(a.failures == 2, "failures are counted per connection");
	auth_start(&a, AUTH_PLAIN);
	ok(step_n("\0user\0pencil", 12) == AUTH_FAIL, "no realm: a bare login is not an address");
}

static void test_password_hashes(void)
{
	char hash[PASSWD_HASH_MAX];

	ok(passwd_hash("pw", NULL, hash, sizeof hash, &e) == 0 && strncmp(hash, "$y$", 3) == 0,
	   "yescrypt is the default scheme");
	ok(passwd_verify("pw", hash, &e) == 1 && passwd_verify("pW", hash, &e) == 0,
	   "yescrypt round trip");
	ok(passwd_hash("pw", "bcrypt", hash, sizeof hash, &e) == 0 && strncmp(hash, "$2b$", 4) == 0 &&
	   passwd_verify("pw", hash, &e) == 1, "bcrypt round trip");
	ok(passwd_hash("pw", "sha512", hash, sizeof hash, &e) == 0 && strncmp(hash, "$6$", 3) == 0 &&
	   passwd_verify("pw", hash, &e) == 1, "sha512-crypt round trip");
	ok(passwd_hash("pw", "md5", hash, sizeof hash, &e) == -1, "unknown scheme refused");
	ok(passwd_verify("pw", "", &e) == 0 && passwd_verify("pw", "!", &e) == 0 &&
	   passwd_verify("pw", "!$y$abc", &e) == 0, "empty and locked hashes never match");
	/* SHA-256("pencil") in base64, as doveadm pw -s SHA256 writes it */
	ok(passwd_verify("pencil", "{SHA256}E4CWaPtDY4Zwb2fcsFLtWEoEuhaowCoX1m00ww/O2iE=", &e) == 1,
	   "{SHA256}");
	ok(passwd_verify("pencil", "{SHA512}xxx", &e) == -1 && strstr(e.msg, "not supported"),
	   "unsupported scheme is an error, not a mismatch (%s)", e.msg);
	ok(passwd_verify("pencil", "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,"
	                 "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
	                 "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", &e) == 1,
	   "{SCRAM-SHA-256} keys check a plain password");
}

int main(void)
{
	write_users();
	test_scram_vector();
	test_scram_unknown();
	test_plain_login();
	test_delay();
	test_password_hashes();
	unlink(users);
	return done_testing();
}
