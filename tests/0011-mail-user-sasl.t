#!/bin/sh
# The SASL engine against a real client, GNU SASL's gsasl: SCRAM-SHA-256
# keys made by mail-user passwd (SASLprep included) log in, and gsasl
# --mkpasswd derives the same keys from the same salt; PLAIN and LOGIN.
. "${top_srcdir:-.}/tests/lib.sh"

SERVER=$top_builddir/tests/sasl-server
login() { "$PYTHON3" "$top_srcdir/tests/gsasl-login.py" "$SERVER" "$tmp/users" example.org "$@"; }
use_mail_conf "example.org"

printf 'pencil\n' | "$MAIL_USER" add bob@example.org --password-stdin
# Fullwidth letters, a no-break space and a roman numeral: SASLprep maps
# them to "pass word IX", on our side and on gsasl's.
printf 'ｐａｓｓ\302\240word Ⅸ\n' | "$MAIL_USER" add uni@example.org --password-stdin
printf 'pencil\n' | "$MAIL_USER" add nokeys@example.org --password-stdin --no-scram
printf 'pencil\n' | "$MAIL_USER" add off@example.org --password-stdin
"$MAIL_USER" disable off@example.org

is "$(login SCRAM-SHA-256 bob@example.org pencil)" "OK bob@example.org" "SCRAM-SHA-256: gsasl logs in with keys from mail-user"
is "$(login SCRAM-SHA-256 bob pencil)" "OK bob@example.org" "SCRAM-SHA-256: a login without domain takes the realm"
out=$(login SCRAM-SHA-256 bob@example.org pencils)
is "$?:$out" "1:NO wrong password for bob@example.org" "SCRAM-SHA-256: wrong password"
is "$(login SCRAM-SHA-256 uni@example.org 'ｐａｓｓ word Ⅸ')" "OK uni@example.org" "SCRAM-SHA-256: SASLprep'd password, as typed"
is "$(login SCRAM-SHA-256 uni@example.org 'pass word IX')" "OK uni@example.org" "SCRAM-SHA-256: ... and in its prepared form"
out=$(login SCRAM-SHA-256 nobody@example.org pencil)
is "$?" 1 "SCRAM-SHA-256: unknown user ($out)"
out=$(login SCRAM-SHA-256 nokeys@example.org pencil)
is "$?:$out" "1:NO nokeys@example.org has no SCRAM keys (set its password again)" "SCRAM-SHA-256: no keys stored"
out=$(login SCRAM-SHA-256 off@example.org pencil)
is "$?:$out" "1:NO account off@example.org is disabled" "SCRAM-SHA-256: disabled account"
is "$(login PLAIN bob@example.org pencil)" "OK bob@example.org" "PLAIN"
out=$(login PLAIN bob@example.org pencils)
is "$?" 1 "PLAIN: wrong password ($out)"
is "$(login LOGIN bob@example.org pencil)" "OK bob@example.org" "LOGIN"
is "$(login PLAIN nokeys@example.org pencil)" "OK nokeys@example.org" "PLAIN needs no SCRAM keys"

# The stored keys are what gsasl derives from the password and our salt.
keys=$(sed -n 's/^bob@example.org:.*scram-sha-256=\([^ ]*\).*/\1/p' "$tmp/users")
iter=${keys%%,*}
salt=$(echo "$keys" | cut -d, -f2)
is "{SCRAM-SHA-256}$keys" "$(gsasl --mkpasswd --mechanism SCRAM-SHA-256 --password pencil \
	--salt "$salt" --iteration-count "$iter")" "SCRAM keys equal gsasl --mkpasswd's"
keys=$(sed -n 's/^uni@example.org:.*scram-sha-256=\([^ ]*\).*/\1/p' "$tmp/users")
salt=$(echo "$keys" | cut -d, -f2)
is "{SCRAM-SHA-256}$keys" "$(gsasl --mkpasswd --mechanism SCRAM-SHA-256 --password 'pass word IX' \
	--salt "$salt" --iteration-count 4096)" "... also after SASLprep"
printf 'pencil\n' | "$MAIL_USER" passwd bob@example.org --scram-iterations 8192
keys=$(sed -n 's/^bob@example.org:.*scram-sha-256=\([^ ]*\).*/\1/p' "$tmp/users")
is "${keys%%,*}" 8192 "--scram-iterations"
is "$(login SCRAM-SHA-256 bob@example.org pencil)" "OK bob@example.org" "... and gsasl logs in with them"
expect_exit 65 "a password with a control character is refused for SCRAM" \
	sh -c "printf 'a\001b\n' | '$MAIL_USER' passwd bob@example.org"

done_testing
