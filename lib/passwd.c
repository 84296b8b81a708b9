#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sysexits.h>

#include "base64.h"
#include "passwd.h"

int passwd_memeq(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

static int random_bytes(void *p, size_t n, struct err *e)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = getrandom((char *)p + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_sys(e, EX_TEMPFAIL, "getrandom");
		got += (size_t)r;
	}
	return 0;
}

int passwd_locked(const char *stored)
{
	return stored[0] == '\0' || stored[0] == '!' || stored[0] == '*';
}

int passwd_hash(const char *password, const char *scheme, char *out,
                size_t outsz, struct err *e)
{
	const char *prefix;
	unsigned long cost = 0;   /* libcrypt's default */
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	int rc = 0;

	if (scheme == NULL || strcmp(scheme, "yescrypt") == 0)
		prefix = "$y$";
	else if (strcmp(scheme, "sha512") == 0 || strcmp(scheme, "sha512-crypt") == 0)
		prefix = "$6$";
	else if (strcmp(scheme, "bcrypt") == 0) {
		prefix = "$2b$";
		cost = 10;   /* libcrypt's 5 is too cheap today; 10 is PHP's choice */
	}
	else
		return err_set(e, EX_USAGE, "unknown password scheme %.32s "
		               "(yescrypt, sha512 or bcrypt)", scheme);
	/* NULL random bytes: libcrypt reads the kernel's random source. */
	if (crypt_gensalt_rn(prefix, cost, NULL, 0, setting, sizeof setting) == NULL)
		return err_sys(e, EX_TEMPFAIL, "make a salt");
	cd = calloc(1, sizeof *cd);
	if (cd == NULL)
		return err_sys(e, EX_TEMPFAIL, "hash password");
	h = crypt_rn(password, setting, cd, sizeof *cd);
	if (h == NULL || h[0] == '*')
		rc = err_sys(e, EX_TEMPFAIL, "hash password");
	else if (snprintf(out, outsz, "%s", h) >= (int)outsz)
		rc = err_set(e, EX_SOFTWARE, "password hash too long");
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return rc;
}

static int verify_crypt(const char *password, const char *stored, struct err *e)
{
	struct crypt_data *cd = calloc(1, sizeof *cd);
	const char *h;
	int rc;

	if (cd == NULL)
		return err_sys(e, EX_TEMPFAIL, "check password");
	h = crypt_rn(password, stored, cd, sizeof *cd);
	if (h == NULL || h[0] == '*')
		rc = err_set(e, EX_CONFIG, "password hash of an unsupported kind");
	else
		rc = strlen(h) == strlen(stored) && passwd_memeq(h, stored, strlen(h));
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return rc;
}

/* {SHA256} and {SSHA256}: base64 of SHA-256(password [+ salt]) [+ salt]. */
static int verify_sha256(const char *password, const char *b64, int salted)
{
	unsigned char raw[SHA256_LEN + 64], digest[SHA256_LEN];
	struct sha256 s;
	long n = base64_decode(b64, strlen(b64), raw, sizeof raw);

	if (n < SHA256_LEN || (!salted && n != SHA256_LEN))
		return 0;
	sha256_init(&s);
	sha256_update(&s, password, strlen(password));
	sha256_update(&s, raw + SHA256_LEN, (size_t)n - SHA256_LEN);
	sha256_final(&s, digest);
	return passwd_memeq(digest, raw, SHA256_LEN);
}

static int verify_scram(const char *password, const char *keys)
{
	struct scram_keys want, got;
	int rc;

	if (scram_keys_parse(keys, &want) < 0)
		return 0;
	scram_keys_derive(password, want.salt, want.saltlen, want.iterations, &got);
	rc = passwd_memeq(got.stored_key, want.stored_key, SHA256_LEN);
	explicit_bzero(&got, sizeof got);
	return rc;
}

static const char *const crypt_schemes[] = {
	"CRYPT", "MD5-CRYPT", "SHA256-CRYPT", "SHA512-CRYPT", "BLF-CRYPT", "DES-CRYPT",
};

int passwd_verify(const char *password, const char *stored, struct err *e)
{
	const char *end;
	size_t i, n;

	if (passwd_locked(stored))
		return 0;
	if (stored[0] != '{')
		return verify_crypt(password, stored, e);
	end = strchr(stored, '}');
	if (end == NULL)
		return err_set(e, EX_CONFIG, "password hash with an unclosed {SCHEME}");
	n = (size_t)(end - stored - 1);
	for (i = 0; i < sizeof crypt_schemes / sizeof *crypt_schemes; i++)
		if (strlen(crypt_schemes[i]) == n && strncasecmp(stored + 1, crypt_schemes[i], n) == 0)
			return verify_crypt(password, end + 1, e);
	if ((n == 5 && strncasecmp(stored + 1, "PLAIN", 5) == 0) ||
	    (n == 5 && strncasecmp(stored + 1, "CLEAR", 5) == 0))
		return strlen(password) == strlen(end + 1) &&
		       passwd_memeq(password, end + 1, strlen(password));
	if (n == 6 && strncasecmp(stored + 1, "SHA256", 6) == 0)
		return verify_sha256(password, end + 1, 0);
	if (n == 7 && strncasecmp(stored + 1, "SSHA256", 7) == 0)
		return verify_sha256(password, end + 1, 1);
	if (n == 13 && strncasecmp(stored + 1, "SCRAM-SHA-256", 13) == 0)
		return verify_scram(password, end + 1);
	return err_set(e, EX_CONFIG, "password scheme {%.*s} is not supported; "
	               "set a new password with mail-user passwd", (int)(n > 32 ? 32 : n), stored + 1);
}

const char *passwd_scheme(const char *stored)
{
	static char scheme[40];
	const char *end;

	if (passwd_locked(stored))
		return "none (no login)";
	if (stored[0] == '{' && (end = strchr(stored, '}')) != NULL) {
		snprintf(scheme, sizeof scheme, "%.*s", (int)(end - stored + 1 > 32 ? 32 : end - stored + 1), stored);
		return scheme;
	}
	if (strncmp(stored, "$y$", 3) == 0)
		return "yescrypt";
	if (strncmp(stored, "$gy$", 4) == 0)
		return "gost-yescrypt";
	if (strncmp(stored, "$7$", 3) == 0)
		return "scrypt";
	if (strncmp(stored, "$6$", 3) == 0)
		return "sha512-crypt";
	if (strncmp(stored, "$5$", 3) == 0)
		return "sha256-crypt";
	if (strncmp(stored, "$2", 2) == 0)
		return "bcrypt";
	if (strncmp(stored, "$1$", 3) == 0)
		return "md5-crypt";
	return "crypt";
}

void scram_keys_derive(const char *password, const unsigned char *salt,
                       size_t saltlen, unsigned long iterations,
                       struct scram_keys *k)
{
	unsigned char salted[SHA256_LEN], client_key[SHA256_LEN];

	pbkdf2_sha256(password, strlen(password), salt, saltlen, iterations,
	              salted, sizeof salted);
	hmac_sha256(salted, sizeof salted, "Client Key", 10, client_key);
	sha256(client_key, sizeof client_key, k->stored_key);
	hmac_sha256(salted, sizeof salted, "Server Key", 10, k->server_key);
	memcpy(k->salt, salt, saltlen);
	k->saltlen = saltlen;
	k->iterations = iterations;
	explicit_bzero(salted, sizeof salted);
	explicit_bzero(client_key, sizeof client_key);
}

int scram_keys_make(const char *password, unsigned long iterations,
                    char *out, size_t outsz, struct err *e)
{
	unsigned char salt[SCRAM_SALT_LEN];
	char s64[BASE64_ENCODED_SIZE(sizeof salt)];
	char st64[BASE64_ENCODED_SIZE(SHA256_LEN)], sv64[BASE64_ENCODED_SIZE(SHA256_LEN)];
	struct scram_keys k;

	if (iterations < 4096 || iterations > 10000000)
		return err_set(e, EX_USAGE, "SCRAM iterations must be between 4096 and 10000000");
	if (random_bytes(salt, sizeof salt, e) < 0)
		return -1;
	scram_keys_derive(password, salt, sizeof salt, iterations, &k);
	base64_encode(salt, sizeof salt, s64);
	base64_encode(k.stored_key, SHA256_LEN, st64);
	base64_encode(k.server_key, SHA256_LEN, sv64);
	explicit_bzero(&k, sizeof k);
	if (snprintf(out, outsz, "%lu,%s,%s,%s", iterations, s64, st64, sv64) >= (int)outsz)
		return err_set(e, EX_SOFTWARE, "SCRAM keys too long");
	return 0;
}

int scram_keys_parse(const char *s, struct scram_keys *k)
{
	const char *f[4], *p = s;
	size_t len[4];
	char *end;
	int i;

	for (i = 0; i < 4; i++) {
		const char *comma = strchr(p, ',');

		f[i] = p;
		if (i < 3 && comma == NULL)
			return -1;
		len[i] = i < 3 ? (size_t)(comma - p) : strlen(p);
		if (i == 3 && strchr(p, ',') != NULL)
			return -1;
		p = comma ? comma + 1 : p;
	}
	if (f[0][0] < '1' || f[0][0] > '9')
		return -1;
	errno = 0;
	k->iterations = strtoul(f[0], &end, 10);
	if (errno != 0 || end != f[0] + len[0] || k->iterations > 10000000)
		return -1;
	{
		long n = base64_decode(f[1], len[1], k->salt, sizeof k->salt);

		if (n <= 0)
			return -1;
		k->saltlen = (size_t)n;
	}
	if (base64_decode(f[2], len[2], k->stored_key, SHA256_LEN) != SHA256_LEN ||
	    base64_decode(f[3], len[3], k->server_key, SHA256_LEN) != SHA256_LEN)
		return -1;
	return 0;
}
