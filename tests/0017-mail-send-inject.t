#!/bin/sh
# mail-send as sendmail: what lands in the queue (envelope, added and
# removed header fields, the lone-dot rule, line ends), its errors, the
# queue commands (--list, --hold, --release, --delete), and real callers:
# bsd-mailx and Python's subprocess as its email documentation shows.
. "${top_srcdir:-.}/tests/lib.sh"

MAIL_SEND=$top_builddir/mail-send
use_mail_conf "example.org"
cat >>"$tmp/mail.conf" <<EOF
queue_dir = $tmp/queue
hostname = mx.example.org
EOF
ms() { "$MAIL_SEND" "$@"; }
envelope() { sed '/^$/q' "$1"; }
message() { sed '1,/^$/d' "$1"; }
field_count() { message "$1" | sed '/^$/q' | grep -c -i "^$2:"; }
me=$(id -un)

# ---- the basics ----
printf 'Subject: one\n\nbody\n' | ms bob@example.org
ok $? "a message with one recipient is queued (exit 0)"
is "$(queued)" 1 "... one file in msg/"
f=$(newest)
envelope "$f" | grep -qx "sender	$me@example.org"; ok $? "... the sender is the login name at the domain"
envelope "$f" | grep -qx "rcpt	bob@example.org		"; ok $? "... the recipient, with empty DSN fields"
message "$f" | head -1 | grep -q '^Received: by mx.example.org (mail-toolkit, from userid '; ok $? "... a Received: field comes first"
is "$(field_count "$f" From)" 1 "... a From: was added"
message "$f" | grep -qx "From: $me@example.org"; ok $? "... from the envelope sender"
is "$(field_count "$f" Date)" 1 "... a Date: was added"
message "$f" | grep -q "^Message-ID: <.*@mx.example.org>$"; ok $? "... a Message-ID: was added"
message "$f" | tail -1 | grep -qx body; ok $? "... the body is there"
"$PYTHON3" - "$f" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
env, _, msg = data.partition(b"\n\n")
size = [l for l in env.split(b"\n") if l.startswith(b"size\t")][0].split(b"\t")[1]
sys.exit(0 if int(size) == len(msg) else 1)
PY
ok $? "... the size line matches the message part"
ls "$tmp/queue/tmp" | grep -q .; [ $? -ne 0 ]; ok $? "... nothing left in tmp/"

printf 'From: Alice <alice@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <x@y>\nSubject: two\n\nbody\n' |
	ms bob
f=$(newest)
is "$(field_count "$f" From)$(field_count "$f" Date)$(field_count "$f" Message-ID)" 111 \
	"fields the message has are not added again"
envelope "$f" | grep -qx "rcpt	bob@example.org		"; ok $? "a bare name gets the default domain"

# ---- -t: recipients from the header; Bcc: never goes out ----
printf 'To: "Doe, Jane" <jane@example.org>, bob@example.org (Bob)\nCc: team: carol@example.org, dave@remote.test;\nBcc: secret@example.org\nSubject: t\n\nbody\n' |
	ms -t extra@example.org
f=$(newest)
is "$(envelope "$f" | grep '^rcpt' | cut -f2 | sort | tr '\n' ' ')" \
	"bob@example.org carol@example.org dave@remote.test extra@example.org jane@example.org secret@example.org " \
	"-t takes To:, Cc: (a group too) and Bcc:, and adds the command line's"
is "$(field_count "$f" Bcc)" 0 "... Bcc: is removed"
message "$f" | grep -q '^To: "Doe, Jane" <jane@example.org>'; ok $? "... To: stays as written"

printf 'Bcc: hidden@example.org\nSubject: bcc\n\nbody\n' | ms visible@example.org
is "$(field_count "$(newest)" Bcc)" 0 "Bcc: is removed without -t too"

# ---- the lone dot, line ends ----
printf 'Subject: dot\n\nfirst\n.\nafter\n' | ms bob
is "$(message "$(newest)" | tail -1)" "first" "without -i a lone '.' ends the message"
printf 'Subject: dot-i\n\nfirst\n.\nafter\n' | ms -i bob
is "$(message "$(newest)" | tail -2 | tr '\n' '|')" ".|after|" "with -i it is an ordinary line"
printf 'Subject: dot-oi\n\nfirst\n.\nafter\n' | ms -oi bob
is "$(message "$(newest)" | tail -1)" "after" "-oi is -i"
printf 'Subject: crlf\r\n\r\nline one\r\nline two\r\n' | ms bob
f=$(newest)
grep -q "$(printf '\r')" "$f"; [ $? -ne 0 ]; ok $? "CR LF input is queued with LF line ends"
is "$(message "$f" | tail -2 | tr '\n' '|')" "line one|line two|" "... every line kept"
printf 'no header at all\nsecond line\n' | ms bob
f=$(newest)
is "$(message "$f" | sed -n '/^$/,$p' | sed 1d | tr '\n' '|')" "no header at all|second line|" \
	"text without a header becomes the body, after the added fields"

# ---- envelope options ----
printf 'Subject: f\n\nbody\n' | ms -f alice@remote.test -F 'Alice "A" Smith' bob
f=$(newest)
envelope "$f" | grep -qx "sender	alice@remote.test"; ok $? "-f sets the sender"
message "$f" | grep -qx 'From: "Alice \\"A\\" Smith" <alice@remote.test>'; ok $? "-F names the added From:"
printf 'Subject: null\n\nbody\n' | ms -f '<>' bob
f=$(newest)
envelope "$f" | grep -qx "sender	"; ok $? "-f '<>' is the null sender"
message "$f" | grep -qx "From: MAILER-DAEMON@mx.example.org"; ok $? "... whose From: is MAILER-DAEMON"
printf 'Subject: dsn\n\nbody\n' | ms -N success,failure -R hdrs -V abc123 bob
f=$(newest)
envelope "$f" | grep -qx "rcpt	bob@example.org	SUCCESS,FAILURE	"; ok $? "-N sets NOTIFY"
envelope "$f" | grep -qx "ret	HDRS"; ok $? "-R sets RET"
envelope "$f" | grep -qx "envid	abc123"; ok $? "-V sets ENVID"

# ---- errors: one line, a sysexits code, nothing queued ----
n=$(queued)
# (stdin from files: a function at the end of a pipe runs in a subshell,
# where the test counter would not count)
echo x >"$tmp/x"
printf 'Subject: -t\n\nbody\n' >"$tmp/t"
expect_exit 64 "no recipient: exit 64" ms <"$tmp/x"
expect_exit 65 "a malformed recipient: exit 65" ms 'bob@@example.org' <"$tmp/x"
expect_exit 65 "a malformed sender: exit 65" ms -f 'a b@c' bob <"$tmp/x"
expect_exit 64 "-N with a bad value: exit 64" ms -N sometimes bob <"$tmp/x"
expect_exit 64 "-bs (SMTP on stdin) is refused: exit 64" ms -bs <"$tmp/x"
expect_exit 64 "an unknown option: exit 64" ms -Z bob <"$tmp/x"
expect_exit 64 "an unknown long option: exit 64" ms --frobnicate bob <"$tmp/x"
expect_exit 64 "-t without any address: exit 64" ms -t <"$tmp/t"
echo 'max_message_size = 2000' >>"$tmp/mail.conf"
"$PYTHON3" -c 'import sys; sys.stdout.write("Subject: big\n\n" + ("x" * 70 + "\n") * 100)' >"$tmp/big"
expect_exit 65 "a message over max_message_size: exit 65" ms bob <"$tmp/big"
stderr_has "max_message_size" "... and says which limit"
is "$(queued)" "$n" "nothing was queued by the failures"
is "$(ls "$tmp/queue/tmp" | wc -l | tr -d ' ')" 0 "... and nothing is left in tmp/"
sed -i '/^max_message_size/d' "$tmp/mail.conf"

# ---- the trigger: a waiting runner hears of the new message ----
( timeout 10 head -c 1 "$tmp/queue/trigger" >"$tmp/trig" ) &
reader=$!
sleep 0.3
printf 'Subject: trig\n\nbody\n' | ms bob
wait "$reader"
is "$(wc -c <"$tmp/trig" | tr -d ' ')" 1 "a reader of the trigger FIFO gets a byte"

# ---- durability: fsync'd before exit 0 ----
if command -v strace >/dev/null; then
	printf 'Subject: durable\n\nbody\n' |
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -o "$tmp/strace" -e trace=rename,fsync,fdatasync,exit_group "$MAIL_SEND" bob
	seq=$(grep -E 'rename\(|fsync\(|exit_group' "$tmp/strace" | sed -E 's/^[0-9]+ +//; s/\(.*//' | tr '\n' ' ')
	is "$seq" "rename fsync fsync exit_group " "rename into msg/, fsync of the file and of msg/, then exit"
else
	ok 0 "# SKIP strace missing"
fi

# ---- --list, --hold, --release, --delete ----
printf 'Subject: listed\n\nbody\n' | ms -f alice@remote.test listed@example.org
f=$(newest)
id=$(basename "$f")
ms --list >"$tmp/list"
ok $? "--list exits 0"
grep -q "^$id .* from <alice@remote.test>" "$tmp/list"; ok $? "... shows the message, size and sender"
grep -q "<listed@example.org>  pending" "$tmp/list"; ok $? "... and its recipient, pending"
tail -1 "$tmp/list" | grep -q "^-- [0-9]* messages$"; ok $? "... and a count"
ms --hold "$id" >/dev/null
ok $? "--hold exits 0"
[ -f "$tmp/queue/hold/$id" ] && [ ! -f "$f" ]; ok $? "... the message moved to hold/"
ms --list | grep -q "^$id (held)"; ok $? "... --list marks it held"
expect_exit 66 "--hold of a held message: exit 66" ms --hold "$id"
ms --release "$id" >/dev/null
ok $? "--release exits 0"
[ -f "$f" ] && [ ! -f "$tmp/queue/hold/$id" ]; ok $? "... it is back in msg/"
ms --delete "$id" >/dev/null
ok $? "--delete exits 0"
[ ! -f "$f" ] && [ ! -f "$tmp/queue/state/$id" ]; ok $? "... the message and its state are gone"
expect_exit 66 "--delete of an unknown ID: exit 66" ms --delete 1.M1P1Q1
expect_exit 64 "--delete of a path: exit 64" ms --delete ../msg/x

# ---- real callers ----
mailx=$(command -v bsd-mailx || command -v mailx)
if [ -n "$mailx" ]; then
	echo "set sendmail=$MAIL_SEND" >"$tmp/mailrc"
	n=$(queued)
	echo "mailx body" | MAILRC=$tmp/mailrc "$mailx" -s "mailx subject" -c carol@example.org bob@example.org
	ok $? "bsd-mailx sends through mail-send"
	is "$(queued)" $((n + 1)) "... one message queued"
	f=$(newest)
	is "$(envelope "$f" | grep '^rcpt' | cut -f2 | sort | tr '\n' ' ')" \
		"bob@example.org carol@example.org " "... for both recipients"
	message "$f" | grep -qx "Subject: mailx subject"; ok $? "... with its subject"
else
	ok 0 "# SKIP bsd-mailx missing"
fi

cat >"$tmp/send.py" <<'PY'
import subprocess, sys
from email.message import EmailMessage
msg = EmailMessage()
msg["From"] = "app@example.org"
msg["To"] = "bob@example.org, carol@example.org"
msg["Subject"] = "from python"
msg.set_content("Hello from subprocess.\n")
p = subprocess.run([sys.argv[1], "-t", "-oi"], input=msg.as_bytes())
sys.exit(p.returncode)
PY
n=$(queued)
"$PYTHON3" "$tmp/send.py" "$MAIL_SEND"
ok $? "Python's subprocess with sendmail -t -oi"
f=$(newest)
is "$(envelope "$f" | grep '^rcpt' | cut -f2 | sort | tr '\n' ' ')" \
	"bob@example.org carol@example.org " "... the recipients come from To:"
message "$f" | grep -qx "Subject: from python"; ok $? "... the message is there"

done_testing
