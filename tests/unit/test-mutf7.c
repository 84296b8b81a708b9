/* Unit tests for lib/mutf7.c. */
#include "config.h"

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
	return done_testing();
}
