/* Unit tests for lib/mutf7.c. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mutf7.h"
#include "tap.h"

static char out[256];

static const char *enc(const char *s)
{
	if (mutf7_encode(s, strlen(s), out, sizeof out) < 0)
		return "(error)";
	return out;
}

static const char *dec(const char *s)
{
	if (mutf7_decode(s, out, sizeof out) < 0)
		return "(error)";
	return out;
}

int main(void)
{
	is_str(enc("Sent"), "Sent", "ASCII unchanged");
	is_str(enc("Tom & Jerry"), "Tom &- Jerry", "& becomes &-");
	is_str(enc("Entw\xc3\xbcrfe"), "Entw&APw-rfe", "Latin-1 letter");
	is_str(enc("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"), "&ZeVnLIqe-", "CJK run (RFC 3501 example)");
	is_str(enc("\xf0\x9f\x98\x80"), "&2D3eAA-", "astral plane: surrogate pair");
	is_str(enc("a\xc3\xa9\xc3\xa9z"), "a&AOkA6Q-z", "one run for adjacent characters");
	is_str(enc("\xc3"), "(error)", "truncated UTF-8 refused");
	is_str(enc("\xc0\xaf"), "(error)", "overlong UTF-8 refused");
	is_str(enc("\xed\xa0\x80"), "(error)", "encoded surrogate refused");
	ok(mutf7_encode("\xe6\x97\xa5", 3, out, 4) < 0, "short output buffer refused");

	/* decoding: the inverse, and only canonical input */
	static const char *const round[] = {
		"Sent", "Tom & Jerry", "Entw\xc3\xbcrfe", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		"\xf0\x9f\x98\x80", "a\xc3\xa9\xc3\xa9z", "\xc3\xa4&", "&\xc3\xa4&",
	};
	for (size_t i = 0; i < sizeof round / sizeof *round; i++) {
		char copy[256];

		snprintf(copy, sizeof copy, "%s", enc(round[i]));
		is_str(dec(copy), round[i], "decode(encode(x)) = x for %s", copy);
	}
	is_str(dec("&U,BTFw-&ZeVnLIqe-"), "(error)", "adjacent runs refused");
	is_str(dec("&AGE-"), "(error)", "encoded printable ASCII refused");
	is_str(dec("&-"), "&", "&- is &");
	is_str(dec("&-&AOQ-"), "&\xc3\xa4", "&- then a run");
	is_str(dec("&AOQ"), "(error)", "unterminated run refused");
	is_str(dec("&-"), "&", "&- alone");
	is_str(dec("&2D3-"), "(error)", "lone high surrogate refused");
	is_str(dec("&3gA-"), "(error)", "lone low surrogate refused");
	is_str(dec("&AOR-"), "(error)", "non-zero padding bits refused");
	is_str(dec("a\tb"), "(error)", "control character refused");
	is_str(dec("\xc3\xa4"), "(error)", "8-bit byte refused");
	is_str(dec("&-"), "&", "empty run as &-");
	is_str(dec("&"), "(error)", "a lone & refused");
	ok(mutf7_decode("&ZeVnLIqe-", out, 4) < 0, "short output buffer refused when decoding");
	return done_testing();
}
