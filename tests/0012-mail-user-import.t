#!/bin/sh
# mail-user import --dovecot: a Dovecot passwd-file, with hashes made by
# Dovecot's own doveadm pw, becomes accounts that log in with the same
# passwords; mailbox, name, quota and nologin carry over; all or none.
. "${top_srcdir:-.}/tests/lib.sh"

use_mail_conf "example.org, example.net"
field() { grep "^$1:" "$tmp/users" | cut -d: -f"$2"; }

if ! command -v doveadm >/dev/null 2>&1; then
	echo "1..0 # SKIP doveadm (dovecot-core) not installed"
	exit 0
fi
h1=$(doveadm pw -s SHA512-CRYPT -p one)
h2=$(doveadm pw -s SSHA256 -p two)
h3=$(doveadm pw -s BLF-CRYPT -p three)
h4=$(doveadm pw -s SCRAM-SHA-256 -p four)
h5=$(doveadm pw -s SHA256-CRYPT -p five)
{
	echo "# exported from Dovecot"
	echo "jim:$h1:1000:1000:Jim Beam,Room 4,,:/home/jim::userdb_mail=maildir:~/Mail/:LAYOUT=fs userdb_quota_rule=*:storage=1024"
	echo "kim@example.net:$h2::::/srv/kim/"
	echo "  # an indented comment"
	printf 'tim:%s:::::: nologin\r\n' "$h3"
	echo "ann:$h4:::Ann::: quota_rule=*:storage=2G nologin=no"
	echo "zed:$h5:::::: mail=maildir:/var/vmail/zed userdb_quota_rule=*:storage=0M"
	echo "pla:{PLAIN}two words"
} >"$tmp/dovecot"
is "$(mu import --dovecot "$tmp/dovecot")" "6 accounts imported" "import"
for pair in jim@example.org:one kim@example.net:two tim@example.org:three ann@example.org:four \
	zed@example.org:five "pla@example.org:two words"; do
	a=${pair%%:*} pw=${pair#*:}
	printf '%s\n' "$pw" | mu check "$a"
	got=$?
	[ "$a" = tim@example.org ] && want=1 || want=0
	is "$got" "$want" "$a: $(field "$a" 2 | cut -c1-14)... checks the Dovecot password"
	printf '%s\n' "${pw}x" | mu check "$a"
	is $? 1 "$a: a wrong password fails"
done
is "$(mu show tim@example.org | grep '^state:')" "state: disabled" "nologin: disabled"
is "$(mu show ann@example.org | grep '^state:')" "state: active" "nologin=no: active"
is "$(field jim@example.org 3):$(field jim@example.org 4):$(field jim@example.org 5)" \
	"/home/jim/Mail/:Jim Beam:1024K" "maildir:~/Mail/ under the home, name up to the comma, bare quota in KiB"
is "$(field kim@example.net 3)" "/srv/kim/Maildir/" "a home without mail=: HOME/Maildir/"
is "$(field ann@example.org 5)" "2G" "quota_rule from a field without userdb_"
is "$(field zed@example.org 3):$(field zed@example.org 5)" "/var/vmail/zed/:" "absolute maildir; storage=0M is no limit"
is "$(field tim@example.org 3)" "" "no home, no mail=: the default mailbox"
is "$(mu show ann@example.org | grep '^scram')" "scram-sha-256: 4096 iterations" "a {SCRAM-SHA-256} hash gives the SCRAM keys too"
is "$(mu show jim@example.org | grep '^scram')" "scram-sha-256: none" "... other hashes cannot"

cp "$tmp/users" "$tmp/users.before"
expect_exit 73 "importing again: the addresses are taken" mu import --dovecot "$tmp/dovecot"
stderr_has "dovecot:2: jim@example.org is already an account" "... naming file and line"
printf 'new1:{PLAIN}x\nnew2:{PLAIN}y::::::mail=mbox:~/mail\n' >"$tmp/mbox"
expect_exit 65 "an mbox location is refused" mu import --dovecot "$tmp/mbox"
stderr_has "mbox:2:" "... naming the line"
check "all or none: the good line before it was not written" cmp -s "$tmp/users" "$tmp/users.before"
printf 'new3:{PLAIN}x::::::mail=maildir:~/Maildir\n' >"$tmp/nohome"
expect_exit 65 "maildir:~ without a home is refused" mu import --dovecot "$tmp/nohome"
printf 'new4:{PLAIN}x::::::quota_rule=*:storage=10%%\n' >"$tmp/pct"
expect_exit 65 "a percentage quota is refused" mu import --dovecot "$tmp/pct"
printf 'bad user:{PLAIN}x\n' >"$tmp/bad"
expect_exit 65 "an invalid user is refused" mu import --dovecot "$tmp/bad"
expect_exit 66 "a missing file" mu import --dovecot "$tmp/none"
expect_exit 64 "import without --dovecot" mu import "$tmp/dovecot"
check "nothing was written by the failures" cmp -s "$tmp/users" "$tmp/users.before"

done_testing
