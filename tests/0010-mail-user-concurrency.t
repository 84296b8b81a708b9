#!/bin/sh
# mail-user under concurrent edits: writers serialise on the lock, none
# loses another's change, and readers never see a broken file.
. "${top_srcdir:-.}/tests/lib.sh"

users=$tmp/users
use_mail_conf "example.org"
: >"$tmp/errors"

printf '# hand-written\nbase@example.org:{PLAIN}pw:\ntog@example.org:{PLAIN}pw:\n' >"$users"
mu index

# add_accounts W: add w<W>-0 .. w<W>-49, no passwords (nothing to hash)
add_accounts() {
	_i=0
	while [ $_i -lt 50 ]; do
		"$MAIL_USER" add "w$1-$_i@example.org" </dev/null 2>>"$tmp/errors" ||
			echo "add w$1-$_i failed" >>"$tmp/errors"
		_i=$((_i + 1))
	done
}
# read_loop N: list and check until the writers are done
read_loop() {
	while [ ! -e "$tmp/done" ]; do
		"$MAIL_USER" list >"$tmp/list.$1" 2>>"$tmp/errors" || echo "list failed" >>"$tmp/errors"
		grep -qv '^[^	]*@example\.org	[^	]*	\(active\|disabled\)$' "$tmp/list.$1" &&
			echo "list printed a malformed line" >>"$tmp/errors"
		grep -q '^base@example.org	' "$tmp/list.$1" || echo "list missed base@" >>"$tmp/errors"
		{ echo pw | "$MAIL_USER" check base@example.org ||
			echo new-pw | "$MAIL_USER" check base@example.org; } || echo "check base@ failed" >>"$tmp/errors"
	done
}
# toggle N: disable and enable tog@ N times, ending enabled
toggle() {
	_i=0
	while [ $_i -lt "$1" ]; do
		"$MAIL_USER" disable tog@example.org 2>>"$tmp/errors" || echo "disable failed" >>"$tmp/errors"
		"$MAIL_USER" enable tog@example.org 2>>"$tmp/errors" || echo "enable failed" >>"$tmp/errors"
		_i=$((_i + 1))
	done
}

read_loop 1 &
r1=$!
read_loop 2 &
r2=$!
add_accounts 1 &
w1=$!
add_accounts 2 &
w2=$!
toggle 10 &
w3=$!
echo new-pw | "$MAIL_USER" passwd base@example.org --scheme sha512 --no-scram 2>>"$tmp/errors" ||
	echo "passwd failed" >>"$tmp/errors"
wait $w1 $w2 $w3
touch "$tmp/done"
wait $r1 $r2

is "$(cat "$tmp/errors")" "" "two writers adding 50 accounts each, a third toggling, a passwd and two readers: no command failed"
expect_exit 0 "the file parses afterwards" sh -c "'$MAIL_USER' list >'$tmp/list'"
is "$(grep -c '^w[12]-' "$tmp/list")" 100 "all 100 added accounts are there"
is "$(wc -l <"$tmp/list" | tr -d ' ')" 102 "and base@ and tog@, no other line"
is "$(grep -c '^w1-' "$tmp/list"):$(grep -c '^w2-' "$tmp/list")" "50:50" "50 from each writer"
is "$(grep -c '^w' "$users")" 100 "the file has one line per account"
check "the hand-written comment survived" grep -qx '# hand-written' "$users"
check "tog@ ends enabled" grep -q '^tog@example.org		active$' "$tmp/list"
echo new-pw | mu check base@example.org
is $? 0 "the concurrent passwd was not lost"
_i=0 addrs=
while [ $_i -lt 50 ]; do
	addrs="$addrs w1-$_i@example.org w2-$_i@example.org"
	_i=$((_i + 1))
done
mu resolve $addrs >"$tmp/resolved"
is "$?:$(grep -c '^local w[12]-[0-9]*@example.org ' "$tmp/resolved")" "0:100" "every account resolves through the final index"

# Several adds of one address at once: exactly one wins.
in_parallel 6 /dev/null "$MAIL_USER" add same@example.org 2>"$tmp/same.err"
is "$(grep -c '^same@' "$users")" 1 "six concurrent adds of one address: one line"
is "$(grep -c 'taken' "$tmp/same.err")" 5 "and five refusals"

# Aliases: two writers, 50 aliases each, and all adding to one shared alias.
add_aliases() {
	_i=0
	while [ $_i -lt 50 ]; do
		"$MAIL_USER" alias add "al$1-$_i@example.org" "w$1-$_i@example.org" 2>>"$tmp/errors" ||
			echo "alias add al$1-$_i failed" >>"$tmp/errors"
		"$MAIL_USER" alias add "all@example.org" "w$1-$_i@example.org" 2>>"$tmp/errors" ||
			echo "alias add all <- w$1-$_i failed" >>"$tmp/errors"
		_i=$((_i + 1))
	done
}
: >"$tmp/errors"
add_aliases 1 &
w1=$!
add_aliases 2 &
w2=$!
wait $w1 $w2
is "$(cat "$tmp/errors")" "" "two alias writers: no command failed"
mu alias list >"$tmp/aliases.list"
is "$?" 0 "the aliases file parses afterwards"
is "$(grep -c '^al[12]-' "$tmp/aliases.list")" 100 "all 100 aliases are there"
is "$(mu alias list all@example.org | tr ',' '\n' | grep -c 'w[12]-')" 100 "the shared alias has all 100 targets"
is "$(mu resolve all@example.org | grep -c '^local ')" 100 "and resolves to 100 accounts"

done_testing
