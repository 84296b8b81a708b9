#!/bin/sh
# mail-user's accounts: the users file it writes, its errors, hand edits and
# the index, passwords hashed by other tools, and checkpassword.
. "${top_srcdir:-.}/tests/lib.sh"

users=$tmp/users
use_mail_conf "example.org, example.net"

# line ADDR [FILE]: the users file line of ADDR
line() { grep "^$1:" "${2:-$users}"; }

# ---- add, and the line it writes ----

expect_exit 0 "add with every option" sh -c "echo 'pa ss' | '$MAIL_USER' add Bob@Example.ORG --password-stdin \
	--name 'Bob Builder' --quota 10M --maildir /srv/mail/bob --address Robert@Example.org --address bb@example.net"
is "$(stat -c %a "$users")" 600 "a new users file is mode 0600 (it holds hashes)"
check "the line: address:hash:maildir/:name:quota:addresses= scram-sha-256=" \
	sh -c "grep -Eq '^bob@example\\.org:\\\$y\\\$[^:]+:/srv/mail/bob/:Bob Builder:10M:addresses=robert@example\\.org,bb@example\\.net scram-sha-256=4096,[^ :]+\$' '$users'"
is "$(wc -l <"$users" | tr -d ' ')" 1 "one line"
expect_exit 0 "add with --mbox" mu add carol@example.org --mbox mail/carol.mbox --no-scram </dev/null
is "$(line carol@example.org)" "carol@example.org:!:mail/carol.mbox" "no password is '!', the mbox path as given, no empty trailing fields"
expect_exit 0 "add with no options" mu add dave@example.org </dev/null
is "$(line dave@example.org)" "dave@example.org:!:example.org/dave/Maildir/" "default mailbox DOMAIN/LOCAL/Maildir/ under the mail root"
expect_exit 0 "--maildir without a trailing slash gets one" mu add erin@example.org --maildir rel/erin </dev/null
is "$(line erin@example.org | cut -d: -f3)" "rel/erin/" "relative Maildir kept relative"
is "$(mu list)" "$(printf 'bob@example.org\tBob Builder\tactive\ncarol@example.org\t\tactive\ndave@example.org\t\tactive\nerin@example.org\t\tactive')" \
	"list: address, name, state per account, in file order"

# ---- check and passwords ----

echo 'pa ss' | mu check bob@example.org
is $? 0 "check: right password exits 0"
echo 'pa s' | mu check bob@example.org
is $? 1 "check: wrong password exits 1"
echo 'pa ss' | mu check robert@example.org
is $? 0 "check through an addresses= address"
echo 'pa ss' | mu check BOB@example.ORG
is $? 0 "check: the login is case-insensitive"
printf 'pa ss' | mu check bob@example.org
is $? 0 "check: a password without newline"
echo '!' | mu check carol@example.org
is $? 1 "check: an account without password never logs in"
echo 'pa ss' | mu check nobody@example.org
is $? 1 "check: an unknown account exits 1"

expect_exit 0 "passwd from stdin" sh -c "echo new-secret | '$MAIL_USER' passwd bob@example.org"
echo new-secret | mu check bob@example.org
is $? 0 "the new password works"
echo 'pa ss' | mu check bob@example.org
is $? 1 "the old one does not"
check "passwd keeps name, quota, mailbox and addresses" \
	sh -c "grep -Eq '^bob@example\\.org:\\\$y\\\$[^:]+:/srv/mail/bob/:Bob Builder:10M:addresses=robert@example\\.org,bb@example\\.net scram-sha-256=' '$users'"
expect_exit 0 "passwd --no-scram" sh -c "echo third | '$MAIL_USER' passwd bob@example.org --no-scram"
check "drops the SCRAM keys" sh -c "! grep -q scram-sha-256 '$users'"
expect_exit 65 "an empty password is refused" mu passwd bob@example.org </dev/null
echo third | mu check bob@example.org
is $? 0 "and leaves the password alone"

expect_exit 0 "--scheme sha512" sh -c "echo s5 | '$MAIL_USER' add s5@example.org --password-stdin --scheme sha512 --no-scram"
check "makes a \$6\$ hash" sh -c "grep -q '^s5@example.org:\\\$6\\\$' '$users'"
echo s5 | mu check s5@example.org
is $? 0 "that check accepts"
expect_exit 0 "--scheme bcrypt" sh -c "echo bc | '$MAIL_USER' add bc@example.org --password-stdin --scheme bcrypt --no-scram"
check "makes a \$2b\$ hash" sh -c "grep -q '^bc@example.org:\\\$2b\\\$' '$users'"
echo bc | mu check bc@example.org
is $? 0 "that check accepts"
echo bd | mu check bc@example.org
is $? 1 "and a wrong password it refuses"
expect_exit 0 "passwd --scheme sha512" sh -c "echo p6 | '$MAIL_USER' passwd bc@example.org --scheme sha512"
check "rehashes as \$6\$" sh -c "grep -q '^bc@example.org:\\\$6\\\$' '$users'"
expect_exit 64 "unknown --scheme" sh -c "echo x | '$MAIL_USER' add md@example.org --password-stdin --scheme md5"

# ---- disable, enable, show ----

expect_exit 0 "disable" mu disable bob@example.org
echo third | mu check bob@example.org
is $? 1 "a disabled account fails check with the right password"
check "list says disabled" sh -c "'$MAIL_USER' list | grep -q '^bob@example.org	Bob Builder	disabled\$'"
check "the line has disabled=yes" sh -c "grep -q '^bob@example.org:.*:addresses=robert@example.org,bb@example.net disabled=yes\$\\|^bob@example.org:.*:disabled=yes addresses=' '$users'"
expect_exit 0 "enable" mu enable bob@example.org
echo third | mu check bob@example.org
is $? 0 "enabled again, check succeeds"
check "disabled=yes is gone" sh -c "! grep -q disabled= '$users'"

echo sh-pw | mu passwd erin@example.org
mu show erin@example.org >"$tmp/show"
is "$(sed -n '1,5p;7,8p' "$tmp/show")" "$(printf 'address: erin@example.org\nname: \nmailbox: %s/vmail/rel/erin/ (maildir)\nquota: none\npassword: yescrypt\nstate: active\naddresses: ' "$tmp")" \
	"show: address, name, mailbox under mail_root, quota, scheme, state, addresses"
hash=$(line erin@example.org | cut -d: -f2)
salt=$(echo "$hash" | cut -d'$' -f4)
scram_salt=$(line erin@example.org | sed -n 's/.*scram-sha-256=[0-9]*,\([^,]*\),.*/\1/p')
check "the hash and SCRAM salt were found in the file" test -n "$salt" -a -n "$scram_salt"
check "show never prints the hash" sh -c "! grep -qF '$(echo "$hash" | cut -d'$' -f5)' '$tmp/show'"
check "nor its salt" sh -c "! grep -qF '$salt' '$tmp/show'"
check "nor the SCRAM keys" sh -c "! grep -qF '$scram_salt' '$tmp/show'"
is "$(mu show bob@example.org | grep -E '^(quota|addresses|state):' | tr '\n' '|')" \
	"quota: 10M|state: active|addresses: robert@example.org,bb@example.net|" "show bob: quota, state, addresses"

# ---- del ----

cp "$users" "$tmp/before-del"
expect_exit 0 "del" mu del dave@example.org
check "the account is gone" sh -c "! grep -q '^dave@' '$users'"
is "$(grep -v '^dave@' "$tmp/before-del" | cmp - "$users" && echo same)" same "every other line is as it was"

# ---- errors: an exit code and one line on stderr ----

cp "$users" "$tmp/before-errors"
expect_exit 65 "invalid address" mu add not-an-address </dev/null
expect_exit 65 "invalid --address" mu add fred@example.org --address 'a b@example.org' </dev/null
expect_exit 67 "del of an unknown account" mu del nobody@example.org
stderr_has "nobody@example.org" "the reason names the address"
expect_exit 67 "passwd of an unknown account" sh -c "echo x | '$MAIL_USER' passwd nobody@example.org"
expect_exit 67 "disable of an unknown account" mu disable nobody@example.org
expect_exit 67 "show of an unknown account" mu show nobody@example.org
expect_exit 73 "adding an existing address" mu add bob@example.org </dev/null
expect_exit 73 "adding an existing address in other case" mu add BOB@example.org </dev/null
expect_exit 73 "adding another account's addresses= address" mu add robert@example.org </dev/null
expect_exit 73 "adding an --address another account has" mu add fred@example.org --address bob@example.org </dev/null
expect_exit 73 "adding an --address that is another's addresses= one" mu add fred@example.org --address robert@example.org </dev/null
mu --users "$tmp/self" add fred@example.org --address fred@example.org </dev/null 2>/dev/null
expect_exit 0 "add with --address equal to the address itself leaves a file that parses" sh -c "'$MAIL_USER' --users '$tmp/self' list >/dev/null"
mu --users "$tmp/twice" add gina@example.org --address g@example.org --address G@example.org </dev/null 2>/dev/null
expect_exit 0 "add with the same --address twice leaves a file that parses" sh -c "'$MAIL_USER' --users '$tmp/twice' list >/dev/null"
mu del robert@example.org 2>"$tmp/stderr"
rc=$?
check "del of an addresses= address refuses (got $rc), one stderr line" sh -c "[ $rc -ne 0 ] && [ \$(wc -l <'$tmp/stderr') -eq 1 ]"
check "and does not remove the account that has it" grep -q '^bob@example.org:' "$users"
cp "$tmp/before-errors" "$users"
mu index
expect_exit 64 "bad option to a command" mu add fred@example.org --bogus </dev/null
expect_exit 64 "bad option before the command" mu --bogus list
expect_exit 64 "missing option argument" mu add fred@example.org --name
expect_exit 64 "unknown command" mu frobnicate
expect_exit 64 "--maildir and --mbox together" mu add fred@example.org --maildir a --mbox b </dev/null
expect_exit 64 "a mailbox path with .." mu add fred@example.org --maildir ../../etc </dev/null
expect_exit 64 "a name with a TAB" mu add fred@example.org --name "$(printf 'a\tb')" </dev/null
expect_exit 64 "a bad --quota" mu add fred@example.org --quota 10X </dev/null
mu add fred@example.org --name "$(printf 'x\377y')" </dev/null 2>"$tmp/stderr"
rc=$?
check "a name in invalid UTF-8 is refused as bad input (64 or 65, got $rc), one stderr line" \
	sh -c "[ $rc -eq 64 -o $rc -eq 65 ] && [ \$(wc -l <'$tmp/stderr') -eq 1 ]"
sed 's/^/#   /' "$tmp/stderr"
# '#' is atext (RFC 5322), but a users-file line starting with it is a comment.
mu add '#hash@example.org' --maildir hash </dev/null 2>"$tmp/stderr"
rc=$?
check "an address starting with '#' is stored so that it reads back, or refused as invalid (65); not a temporary failure (got $rc)" \
	sh -c "[ $rc -eq 65 -a \$(wc -l <'$tmp/stderr') -eq 1 ] ||
		{ [ $rc -eq 0 ] && '$MAIL_USER' list | grep -q '^#hash@example.org	' && '$MAIL_USER' del '#hash@example.org'; }"
sed 's/^/#   /' "$tmp/stderr"
printf 'users_file = %s\nusers_fiel = x\n' "$users" >"$tmp/typo.conf"
expect_exit 78 "unknown config key" mu --config "$tmp/typo.conf" list
stderr_has "typo.conf:2: unknown key users_fiel" "the reason has file, line and key"
printf 'auth_failure_delay = soon\n' >"$tmp/delay.conf"
expect_exit 78 "bad auth_failure_delay" mu --config "$tmp/delay.conf" list
check "no refused command changed the file" cmp -s "$users" "$tmp/before-errors"

# ---- a hand-written file with a malformed line ----

printf '# written by hand\nann@example.org:{PLAIN}pw:\n\nthis is not an account\nben@example.org:{PLAIN}pw2:\n' >"$tmp/hand"
cp "$tmp/hand" "$tmp/hand.orig"
expect_exit 65 "list refuses a malformed file" mu --users "$tmp/hand" list
stderr_has "hand:4:" "naming file:LINE"
expect_exit 65 "add refuses to rewrite it" mu --users "$tmp/hand" add new@example.org </dev/null
stderr_has "hand:4:" "naming file:LINE"
expect_exit 65 "del refuses too" mu --users "$tmp/hand" del ann@example.org
expect_exit 65 "index refuses too" mu --users "$tmp/hand" index
stderr_has "hand:4:" "naming file:LINE"
check "the file is unchanged" cmp -s "$tmp/hand" "$tmp/hand.orig"
check "and no index was made" test ! -e "$tmp/hand.cdb"
echo pw | mu --users "$tmp/hand" check ann@example.org
is $? 0 "lookups of well-formed lines still work"

printf 'ann@example.org:{PLAIN}pw::::bogus=1\n' >"$tmp/hand2"
expect_exit 65 "an unknown extra field" mu --users "$tmp/hand2" list
stderr_has "hand2:1: unknown extra field bogus" "named with file:LINE"
expect_exit 78 "check on the malformed account's own line is a configuration error" \
	sh -c "echo pw | '$MAIL_USER' --users '$tmp/hand2' check ann@example.org"
stderr_has "hand2:1:" "naming file:LINE"
printf 'a@example.org:{PLAIN}1:\nb@example.org:{PLAIN}2::::addresses=x@example.org\nA@Example.org:{PLAIN}3:\n' >"$tmp/dup"
expect_exit 65 "a duplicate address" mu --users "$tmp/dup" list
stderr_has "dup:3:.*line 1" "names both lines"
printf 'x@example.org:{PLAIN}1:\nc@example.org:{PLAIN}2::::addresses=x@example.org\n' >"$tmp/dup2"
expect_exit 65 "an addresses= address that is another account's" mu --users "$tmp/dup2" list
stderr_has "dup2:2:" "named with file:LINE"
printf 'q@example.org:{PLAIN}1:::lots\n' >"$tmp/badq"
expect_exit 65 "a bad quota field" mu --users "$tmp/badq" list
stderr_has "badq:1:" "named with file:LINE"

# ---- long lines and odd characters round-trip ----

printf '# comment kept\n\n' >"$tmp/odd"
printf 'hand@example.org:{PLAIN}a\\:b\\\\c::Smith\\: John \\\\ Jr.::x-note=a\\ b x-dept=sales\n' >>"$tmp/odd"
expect_exit 0 "add a name with ':' and '\\'" mu --users "$tmp/odd" add o@example.org --name 'A:b\c d' </dev/null
is "$(line o@example.org "$tmp/odd")" 'o@example.org:!:example.org/o/Maildir/:A\:b\\c d' "written as A\\:b\\\\c d"
utf=$(printf 'J\303\274rgen \346\227\245\346\234\254 \360\237\230\200 \303\205ngstr\303\266m')
expect_exit 0 "add a UTF-8 name" mu --users "$tmp/odd" add u@example.org --name "$utf" </dev/null
is "$(mu --users "$tmp/odd" list)" "$(printf 'hand@example.org\tSmith: John \\ Jr.\tactive\no@example.org\tA:b\\c d\tactive\nu@example.org\t%s\tactive' "$utf")" \
	"list shows the names unescaped, UTF-8 intact"
printf '%s\n' 'a:b\c' | mu --users "$tmp/odd" check hand@example.org
is $? 0 "a {PLAIN} password with escaped ':' and '\\'"
cp "$tmp/odd" "$tmp/odd.before"
expect_exit 0 "a rewrite (disable another account)" mu --users "$tmp/odd" disable u@example.org
is "$(sed -n 1,4p "$tmp/odd")" "$(sed -n 1,4p "$tmp/odd.before")" "comments, blank lines, escapes and x- fields kept byte for byte"
mu --users "$tmp/odd" show hand@example.org >"$tmp/show"
check "show: the x- fields" grep -qF 'extra: x-note=a\ b x-dept=sales' "$tmp/show"
check "show: the name unescaped" grep -qxF 'name: Smith: John \ Jr.' "$tmp/show"

near=$(head -c 8000 /dev/zero | tr '\0' n)
expect_exit 0 "add an 8000-byte name" mu --users "$tmp/long" add near@example.org --name "$near" </dev/null
is "$(mu --users "$tmp/long" list | cut -f2 | cksum)" "$(printf '%s\n' "$near" | cksum)" "it lists back unchanged"
long=$(head -c 9000 /dev/zero | tr '\0' m)
# Lines are limited to 8192 bytes (mail-users(5)): longer is refused, never cut.
expect_exit 65 "add with a 9000-byte name is refused (the line would pass 8192 bytes)" mu --users "$tmp/long" add long@example.org --name "$long" </dev/null
stderr_has "8192" "... saying the limit"
is "$(mu --users "$tmp/long" list | grep -c '^long@')" 0 "... and nothing was written"
long8=$(head -c 8000 /dev/zero | tr '\0' m)
expect_exit 0 "an 8000-byte name fits" mu --users "$tmp/long" add long@example.org --name "$long8" </dev/null
is "$(mu --users "$tmp/long" list | grep '^long@' | cut -f2 | cksum)" "$(printf '%s\n' "$long8" | cksum)" "it lists back unchanged"
printf 'hl@example.org:{PLAIN}pw::::x-blob=%s\nz@example.org:{PLAIN}z:\n' "$long" >"$tmp/long2"
cp "$tmp/long2" "$tmp/long2.orig"
expect_exit 65 "a hand-written line over 8192 bytes is reported" mu --users "$tmp/long2" list
stderr_has "long2:1: line longer than 8192 bytes" "... with its file and line"
echo z | mu --users "$tmp/long2" check z@example.org
is $? 0 "the other accounts still log in"
expect_exit 65 "no rewrite of a file with a line over 8192 bytes" mu --users "$tmp/long2" disable z@example.org
check "the file is left byte for byte" cmp -s "$tmp/long2.orig" "$tmp/long2"

# ---- hand edits and the index ----

ix=$tmp/ix
mu --users "$ix" add a@example.org --no-scram --password-stdin <<EOF
old-a
EOF
mu --users "$ix" add b@example.org --no-scram --password-stdin <<EOF
old-b
EOF
check "every edit writes the index" test -s "$ix.cdb"
echo old-a | mu --users "$ix" check a@example.org
is $? 0 "check through the index"
# Same inode, lines moved, one changed, one removed, one added: the index is stale.
printf '# edited\nc@example.org:{PLAIN}new-c:\na@example.org:{PLAIN}new-a:\n' >"$tmp/ix.new"
cat "$tmp/ix.new" >"$ix"
echo new-a | mu --users "$ix" check a@example.org
is $? 0 "stale index: the changed password works"
echo old-a | mu --users "$ix" check a@example.org
is $? 1 "stale index: the old password does not"
echo old-b | mu --users "$ix" check b@example.org
is $? 1 "stale index: the removed account is gone"
echo new-c | mu --users "$ix" check c@example.org
is $? 0 "stale index: the added account is found"
is "$(mu --users "$ix" show a@example.org | grep '^line:')" "line: 3" "show gives the line in the file as it is"
# A new inode, as sed -i and editors make.
sed 's/new-c/newer-c/' "$ix" >"$tmp/ix.sed" && mv "$tmp/ix.sed" "$ix"
echo newer-c | mu --users "$ix" check c@example.org
is $? 0 "stale index after a rename: the new password works"
cp "$ix.cdb" "$tmp/ix.cdb.old"
expect_exit 0 "index after the hand edit" mu --users "$ix" index
check "rebuilds the index" sh -c "! cmp -s '$ix.cdb' '$tmp/ix.cdb.old'"
check "and leaves the file as it was" sh -c "printf '# edited\nc@example.org:{PLAIN}newer-c:\na@example.org:{PLAIN}new-a:\n' | cmp -s - '$ix'"
echo new-a | mu --users "$ix" check a@example.org
is $? 0 "lookups through the new index"
echo newer-c | mu --users "$ix" check c@example.org
is $? 0 "every account in it"
echo old-b | mu --users "$ix" check b@example.org
is $? 1 "and no removed one"
# A same-size edit in place within one timestamp tick (coarse mtimes: a
# Debian 12 kernel stamps files in jiffies) leaves dev, inode, size and
# mtime as the index recorded them: simulated by restoring the mtime.
printf 'p@example.org:{PLAIN}pw:\n' >"$tmp/tick"
mu --users "$tmp/tick" index
touch -r "$tmp/tick" "$tmp/tick.ref"
printf 'q@example.org:{PLAIN}pw:\n' >"$tmp/tick"
touch -r "$tmp/tick.ref" "$tmp/tick"
echo pw | mu --users "$tmp/tick" check q@example.org
is $? 0 "an edit the stamp cannot see (same size, inode, mtime) still finds the new account"

# ---- mode and owner survive a rewrite ----

chmod 640 "$users"
owner=$(stat -c %u:%g "$users")
if [ "$(id -u)" -eq 0 ]; then
	chown 4321:8765 "$users"
	owner=4321:8765
fi
expect_exit 0 "a rewrite" mu disable erin@example.org
is "$(stat -c '%a %u:%g' "$users")" "640 $owner" "keeps the users file's mode and owner"
is "$(stat -c '%a %u:%g' "$users.cdb")" "640 $owner" "the index gets the same, no wider"

# ---- hashes made by other tools ----

pw='p\303\244ss:1'
pw=$(printf "$pw")
{
	printf 'dv6@example.org:%s:\n' "$(doveadm pw -s SHA512-CRYPT -p "$pw")"
	printf 'dv6raw@example.org:%s:\n' "$(doveadm pw -s SHA512-CRYPT -p "$pw" | sed 's/^{SHA512-CRYPT}//')"
	printf 'dv5@example.org:%s:\n' "$(doveadm pw -s SHA256-CRYPT -p "$pw")"
	printf 'dvssha@example.org:%s:\n' "$(doveadm pw -s SSHA256 -p "$pw")"
	printf 'dvsha@example.org:%s:\n' "$(doveadm pw -s SHA256 -p "$pw")"
	printf 'dvblf@example.org:%s:\n' "$(doveadm pw -s BLF-CRYPT -p "$pw")"
	printf 'dvscram@example.org:%s:\n' "$(doveadm pw -s SCRAM-SHA-256 -p "$pw")"
	printf 'plain@example.org:{PLAIN}%s:\n' "$(printf '%s' "$pw" | sed 's/:/\\:/g')"
} >"$tmp/imported"
check "doveadm made every hash" sh -c "! grep -q '^[^:]*@example.org::' '$tmp/imported'"
py=$(python_with crypt)
check "python3 has the crypt module" test -n "$py"
"$py" -W ignore -c 'import crypt, sys
salt = crypt.mksalt(crypt.METHOD_SHA512)[3:]
for a, setting in (("py6", crypt.mksalt(crypt.METHOD_SHA512)), ("pyy", "$y$j9T$" + salt + "$"),
                   ("py2b", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))):
    print("%s@example.org:%s:" % (a, crypt.crypt(sys.argv[1], setting)))' "$pw" >>"$tmp/imported"
check "python made \$6\$, \$y\$ and \$2b\$ hashes" sh -c "grep -q '^py6@example.org:\\\$6\\\$' '$tmp/imported' && grep -q '^pyy@example.org:\\\$y\\\$' '$tmp/imported' && grep -q '^py2b@example.org:\\\$2b\\\$' '$tmp/imported'"
for a in dv6 dv6raw dv5 dvssha dvsha dvblf dvscram plain py6 pyy py2b; do
	printf '%s\n' "$pw" | mu --users "$tmp/imported" check "$a@example.org"
	is $? 0 "$(line "$a@example.org" "$tmp/imported" | cut -d: -f2 | cut -c1-16)...: the right password"
	printf '%s\n' "${pw}x" | mu --users "$tmp/imported" check "$a@example.org"
	is $? 1 "$(line "$a@example.org" "$tmp/imported" | cut -d: -f2 | cut -c1-16)...: a wrong one"
done
expect_exit 0 "the imported file lists" sh -c "'$MAIL_USER' --users '$tmp/imported' list >/dev/null"
# Dovecot's passwd-file takes a {PLAIN} password with blanks as it is.
printf 'blank@example.org:{PLAIN}two words:\n' >>"$tmp/imported"
printf 'two words\n' | mu --users "$tmp/imported" check blank@example.org
is $? 0 "{PLAIN} with a blank, as Dovecot writes it"
is "$(mu --users "$tmp/imported" show dvssha@example.org | grep '^password:')" "password: {SSHA256}" "show names the imported scheme"

# ---- checkpassword ----

mkdir -p "$tmp/vmail/example.org/cp/Maildir"
printf 'cpw\n' | mu add cp@example.org --password-stdin --no-scram
out=$(printf 'cp@example.org\0cpw\0\0' | "$MAIL_USER" checkpassword sh -c 'echo "$USER $HOME $MAILDIR"; pwd' 3<&0)
is $? 0 "checkpassword: right password runs the program, exit 0"
is "$out" "$(printf 'cp@example.org %s/vmail/example.org/cp %s/vmail/example.org/cp/Maildir/\n%s/vmail/example.org/cp' "$tmp" "$tmp" "$tmp")" \
	"with USER, HOME and MAILDIR set and the working directory at HOME"
out=$(printf 'cp\0cpw\0\0' | "$MAIL_USER" checkpassword sh -c 'echo "$USER"' 3<&0)
is "$out" "cp@example.org" "a bare login is qualified with domain"
out=$(printf 'cp@example.org\0wrong\0\0' | "$MAIL_USER" checkpassword sh -c 'echo ran' 3<&0)
is "$?$out" 1 "wrong password: exit 1, the program not run"
out=$(printf 'nobody@example.org\0cpw\0\0' | "$MAIL_USER" checkpassword sh -c 'echo ran' 3<&0)
is "$?$out" 1 "unknown login: exit 1"
mu disable cp@example.org
out=$(printf 'cp@example.org\0cpw\0\0' | "$MAIL_USER" checkpassword sh -c 'echo ran' 3<&0)
is "$?$out" 1 "disabled account: exit 1"
mu enable cp@example.org
expect_exit 2 "no program: exit 2" sh -c "printf 'cp@example.org\0cpw\0\0' | '$MAIL_USER' checkpassword 3<&0"
expect_exit 2 "input without NULs: exit 2" sh -c "printf 'cp@example.org' | '$MAIL_USER' checkpassword true 3<&0"
# qmail's limit: up to 512 bytes on fd 3 (login, password, timestamp).
pad=$(head -c 492 /dev/zero | tr '\0' t)
printf 'cp@example.org\0cpw\0%s\0' "$pad" >"$tmp/cp512"
is "$(wc -c <"$tmp/cp512" | tr -d ' ')" 512 "a 512-byte checkpassword input"
out=$("$MAIL_USER" checkpassword sh -c 'echo ran' 3<"$tmp/cp512")
is "$?$out" 0ran "... is accepted"
printf 't' >>"$tmp/cp512"
expect_exit 2 "513 bytes: exit 2" "$MAIL_USER" checkpassword true 3<"$tmp/cp512"
mkdir -p "$tmp/vmail/mail"
printf 'mbpw\n' | mu add mb@example.org --mbox mail/mb.mbox --password-stdin --no-scram
out=$(printf 'mb@example.org\0mbpw\0\0' | "$MAIL_USER" checkpassword sh -c 'echo "$USER|$HOME|$MAIL|${MAILDIR-unset}"; pwd' 3<&0)
is "$?:$out" "$(printf '0:mb@example.org|%s/vmail/mail|%s/vmail/mail/mb.mbox|unset\n%s/vmail/mail' "$tmp" "$tmp" "$tmp")" \
	"an mbox account: MAIL set, no MAILDIR, HOME the mbox's directory"
printf 'nh\n' | mu add nohome@example.org --maildir "$tmp/gone/Maildir" --password-stdin --no-scram
expect_exit 111 "HOME missing: exit 111" sh -c "printf 'nohome@example.org\0nh\0\0' | '$MAIL_USER' checkpassword true 3<&0"
mkdir "$tmp/users.d"
expect_exit 111 "users file unreadable: exit 111" \
	sh -c "printf 'cp@example.org\0cpw\0\0' | '$MAIL_USER' --users '$tmp/users.d' checkpassword true 3<&0"
expect_exit 111 "users file missing: exit 111" \
	sh -c "printf 'cp@example.org\0cpw\0\0' | '$MAIL_USER' --users '$tmp/none' checkpassword true 3<&0"
if [ "$(id -u)" -ne 0 ]; then   # root reads any file
	cp "$users" "$tmp/users.0"
	chmod 000 "$tmp/users.0"
	expect_exit 111 "users file without read permission: exit 111" \
		sh -c "printf 'cp@example.org\0cpw\0\0' | '$MAIL_USER' --users '$tmp/users.0' checkpassword true 3<&0"
fi

# ---- password length: libcrypt takes up to 511 bytes ----
p511=$(head -c 511 /dev/zero | tr '\0' p)
expect_exit 0 "a 511-byte password is accepted" sh -c "printf '%s\n' '$p511' | '$MAIL_USER' add len@example.org --password-stdin --no-scram"
echo "$p511" | mu check len@example.org
is $? 0 "... and checks"
expect_exit 65 "a 512-byte password is refused" sh -c "printf '%s\n' '${p511}p' | '$MAIL_USER' passwd len@example.org --no-scram"
stderr_has "longer than 511 bytes" "... saying the limit"
is "$(echo x | mu add bcr@example.org --password-stdin --scheme bcrypt --no-scram; mu show bcr@example.org | grep '^password:')" "password: bcrypt" "bcrypt hash"
check "bcrypt cost 10" grep -q '^bcr@example.org:\$2b\$10\$' "$users"

done_testing
