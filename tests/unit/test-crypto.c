/* SHA-256 (FIPS 180-4 examples), HMAC-SHA-256 (RFC 4231), PBKDF2 (RFC 7914
 * section 11), base64 (RFC 4648 section 10), cdb round trips. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "cdb.h"
#include "sha256.h"
#include "tap.h"

static const char *hex(const unsigned char *p, size_t n)
{
	static char out[300];

	for (size_t i = 0; i < n && 2 * i + 2 < sizeof out; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
	return out;
}

static void digest(const char *msg, size_t n, const char *want, const char *what)
{
	unsigned char d[SHA256_LEN];

	sha256(msg, n, d);
	is_str(hex(d, sizeof d), want, "sha256 %s", what);
}

static void test_sha256(void)
{
	struct sha256 s;
	unsigned char d[SHA256_LEN];
	char *a = malloc(1000000);

	digest("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty");
	digest("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc");
	digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "two blocks");
	memset(a, 'a', 1000000);
	digest(a, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	       "a million a");
	/* the same in uneven pieces: the buffering across calls */
	sha256_init(&s);
	for (size_t done = 0, step = 1; done < 1000000; done += step, step = step * 7 % 1000 + 1)
		sha256_update(&s, a + done, done + step > 1000000 ? 1000000 - done : step);
	sha256_final(&s, d);
	is_str(hex(d, sizeof d), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	       "sha256 in pieces");
	free(a);
}

static void test_hmac(void)
{
	unsigned char key[131], d[SHA256_LEN];
	const char *msg;

	memset(key, 0x0b, 20);
	hmac_sha256(key, 20, "Hi There", 8, d);
	is_str(hex(d, sizeof d), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
	       "RFC 4231 case 1");
	msg = "what do ya want for nothing?";
	hmac_sha256("Jefe", 4, msg, strlen(msg), d);
	is_str(hex(d, sizeof d), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	       "RFC 4231 case 2");
	memset(key, 0xaa, sizeof key);
	msg = "Test Using Larger Than Block-Size Key - Hash Key First";
	hmac_sha256(key, sizeof key, msg, strlen(msg), d);
	is_str(hex(d, sizeof d), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
	       "RFC 4231 case 6 (key longer than a block)");
}

static void test_pbkdf2(void)
{
	unsigned char out[64];

	pbkdf2_sha256("passwd", 6, "salt", 4, 1, out, sizeof out);
	is_str(hex(out, sizeof out), "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
	       "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783", "RFC 7914 vector 1");
	pbkdf2_sha256("Password", 8, "NaCl", 4, 80000, out, sizeof out);
	is_str(hex(out, sizeof out), "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
	       "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d", "RFC 7914 vector 2");
}

static void test_base64(void)
{
	static const char *const v[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	static const char *const bad[] = { "Zg=", "Zg", "Z===", "Zm9v YmFy", "Zh==", "Zm9=",
	                                   "Zg==Zg==", "=Zg=", "Zm9v\n" };
	unsigned char buf[16];
	char enc[32];
	size_t i;

	for (i = 0; i < sizeof v / sizeof *v; i++) {
		long n;

		base64_encode(v[i][0], strlen(v[i][0]), enc);
		is_str(enc, v[i][1], "base64 encode \"%s\"", v[i][0]);
		n = base64_decode(v[i][1], strlen(v[i][1]), buf, sizeof buf);
		ok(n == (long)strlen(v[i][0]) && memcmp(buf, v[i][0], (size_t)n) == 0,
		   "base64 decode %s", v[i][1]);
	}
	for (i = 0; i < sizeof bad / sizeof *bad; i++)
		ok(base64_decode(bad[i], strlen(bad[i]), buf, sizeof buf) == -1,
		   "base64 refuses \"%s\"", bad[i]);
	ok(base64_decode("Zm9vYmFy", 8, buf, 5) == -1, "base64 refuses output that does not fit");
}

static void test_cdb(void)
{
	char path[] = "/tmp/test-cdb.XXXXXX", key[32], val[32], got[32];
	struct cdb_make m;
	struct err e;
	long n;
	int fd = mkstemp(path), i, good = 1;

	ok(fd >= 0 && cdb_make_start(&m, fd, &e) == 0, "cdb: start");
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "key%d", i);
		snprintf(val, sizeof val, "value%d", i * 7);
		cdb_make_add(&m, key, strlen(key), val, strlen(val));
	}
	cdb_make_add(&m, "", 0, "empty", 5);
	ok(cdb_make_finish(&m) == 0, "cdb: finish");
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "key%d", i);
		snprintf(val, sizeof val, "value%d", i * 7);
		n = cdb_find(fd, key, strlen(key), got, sizeof got, &e);
		if (n != (long)strlen(val) || memcmp(got, val, (size_t)n) != 0)
			good = 0;
	}
	ok(good, "cdb: 5000 keys found with their values");
	ok(cdb_find(fd, "key5000", 7, got, sizeof got, &e) == -2, "cdb: absent key");
	ok(cdb_find(fd, "", 0, got, sizeof got, &e) == 5 && memcmp(got, "empty", 5) == 0,
	   "cdb: empty key");
	ok(cdb_find(fd, "key1", 4, got, 3, &e) == 6 && memcmp(got, "val", 3) == 0,
	   "cdb: value longer than the buffer is cut and its length told");
	ok(ftruncate(fd, 1000) == 0 && cdb_find(fd, "key1", 4, got, sizeof got, &e) == -1,
	   "cdb: a truncated file is an error, not a wrong answer");
	close(fd);
	unlink(path);
}

int main(void)
{
	test_sha256();
	test_hmac();
	test_pbkdf2();
	test_base64();
	test_cdb();
	return done_testing();
}
