#!/bin/sh
# End to end: the whole server as scripts/serve runs it (spec/serve.md),
# driven from outside by swaks and Python's smtplib, imaplib and poplib
# (tests/e2eclient.py). Two instances on loopback, each with its own state
# and ports: example.test and other.test. Mail to the MX read back
# byte-exact over IMAP and POP3; submission with STARTTLS and AUTH relayed
# to the other instance through a route; refusal at RCPT and an RFC 3464
# bounce from a peer's 550; a trained filter filing spam in Junk and EICAR
# delivered marked or bounced as mail.conf says; and a restart of every
# service in the middle of a stream of 500 messages losing none of those
# acknowledged.
. "${top_srcdir:-.}/tests/lib.sh"

SERVE=$top_srcdir/scripts/serve
MAIL_FILTER=$top_builddir/mail-filter
E2E="$PYTHON3 $top_srcdir/tests/e2eclient.py"
# serve runs the programs of the build under test, not build/ of the source tree
MAIL_TOOLKIT_BIN=$top_builddir
export MAIL_TOOLKIT_BIN
A=$tmp/a
B=$tmp/b
instances=
cleanup() {
	for _s in $instances; do "$SERVE" stop --state "$_s" >/dev/null 2>&1; done
	for _p in $servers; do kill "$_p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ ! -x "$SERVE" ]; then
	ok 1 "scripts/serve exists"
	done_testing
	exit
fi

# Two port offsets whose seven ports are all free, 1000 apart so that the
# instances never overlap (the base ports span 2110..2995).
set -- $("$PYTHON3" - <<'PY'
import os, random, socket
base = (2525, 2587, 2465, 2143, 2993, 2110, 2995)
def free(off):
    for p in base:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p + off))
        except OSError:
            return False
        finally:
            s.close()
    return True
r = random.Random(os.getpid())
found = []
while len(found) < 2:
    off = r.randrange(10, 60) * 1000
    if off not in found and free(off):
        found.append(off)
print(*found)
PY
)
offA=$1 offB=$2
smtpA=$((2525 + offA)) subA=$((2587 + offA)) smtpsA=$((2465 + offA))
imapA=$((2143 + offA)) imapsA=$((2993 + offA)) pop3A=$((2110 + offA)) pop3sA=$((2995 + offA))
smtpB=$((2525 + offB)) subB=$((2587 + offB))

# serve_start STATE OFFSET [OPTIONS]: scripts/serve start, its output kept
serve_start() {
	_st=$1 _off=$2
	shift 2
	case " $instances " in *" $_st "*) ;; *) instances="$instances $_st" ;; esac
	"$SERVE" start --no-build --state "$_st" --port-offset "$_off" "$@" >>"$_st.out" 2>&1
}
serve_stop() { "$SERVE" stop --state "$1" >>"$1.out" 2>&1; }
# set_conf_in FILE KEY [VALUE]: set KEY in a mail.conf, or remove it
set_conf_in() {
	sed -i "/^$2[ 	]*=/d" "$1"
	[ -z "$3" ] || echo "$2 = $3" >>"$1"
}
# wait_until SECONDS COMMAND...: poll COMMAND until it succeeds
wait_until() {
	_end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$_end" ] || return 1
		sleep 0.2
	done
}
# find_mail DIR MSGID: the file in the Maildir folder DIR (new/ or cur/)
# whose Message-ID is MSGID
find_mail() {
	grep -l -i -x -F "Message-ID: $2" "$1"/new/* "$1"/cur/* 2>/dev/null | head -1
}
has_mail() { [ -n "$(find_mail "$1" "$2")" ]; }
count_mail() { find "$1/new" "$1/cur" -type f 2>/dev/null | wc -l | tr -d ' '; }
# mailbox STATE ADDRESS: the account's Maildir, as mail-user shows it
mailbox() {
	MAIL_CONF=$1/mail.conf "$MAIL_USER" show "$2" | sed -n 's/^mailbox: \(.*\)\/ (maildir)$/\1/p'
}
# show FILE: the end of a file into the TAP output, as comments
show() { tail -20 "$1" 2>/dev/null | sed 's/^/#   /'; }
# okf STATUS DESCRIPTION FILE...: ok, and on failure the end of each FILE
okf() {
	_r=$1 _d=$2
	shift 2
	ok "$_r" "$_d"
	[ "$_r" -eq 0 ] || for _f in "$@"; do echo "# $_f:"; show "$_f"; done
}
# peer DIR RULE...: tests/smtppeer.py on a free port; sets $pport
peer() {
	_dir=$1
	shift
	mkdir -p "$_dir"
	"$PYTHON3" "$top_srcdir/tests/smtppeer.py" "$_dir/port" "$_dir" "$@" &
	servers="$servers $!"
	for _i in $(seq 1 100); do [ -f "$_dir/port" ] && break; sleep 0.05; done
	pport=$(cat "$_dir/port")
}

# ---- the two instances ----
serve_start "$A" "$offA"
okf $? "scripts/serve start: example.test, ports +$offA" "$A.out"
"$SERVE" status --state "$A" >"$tmp/status" 2>&1
okf $? "scripts/serve status: every service runs (exit 0)" "$tmp/status"
is "$(grep -c 'running' "$tmp/status")" 8 "... one line for each of the eight services, all running"
r=0
for p in $smtpA $subA $smtpsA $imapA $imapsA $pop3A $pop3sA; do grep -qw "$p" "$tmp/status" || r=1; done
okf $r "... naming the seven ports, each + $offA" "$tmp/status"
[ -s "$A/demo-password" ] && [ "$(stat -c %a "$A/demo-password")" = 600 ]
ok $? "the demo password is in STATE/demo-password, mode 0600"
r=0
for f in mail.conf users tls/cert.pem tls/key.pem; do [ -s "$A/$f" ] || { r=1; echo "# no STATE/$f"; }; done
ok $r "STATE holds mail.conf, users, tls/cert.pem and tls/key.pem"
case $($E2E verify "$imapsA" "$A/tls/cert.pem" localhost 2>&1) in
"* OK"*) r=0 ;;
*) r=1 ;;
esac
ok $r "IMAPS: the self-signed certificate verifies for localhost"
case $($E2E verify "$pop3sA" "$A/tls/cert.pem" mail.example.test 2>&1) in
"+OK"*) r=0 ;;
*) r=1 ;;
esac
ok $r "POP3S: ... and for mail.example.test"

# the peers of the other scenarios, in routes: the runner (mail-send
# --daemon) reads mail.conf once, when it starts, so the first instance
# is restarted to take them up
peer "$tmp/refuse" "rcpt:gone@refuse.test=550 5.1.1 <gone@refuse.test>: no such user here"
serve_stop "$A"
okf $? "scripts/serve stop" "$A.out"
! "$SERVE" status --state "$A" >"$tmp/status" 2>&1
r=$?
[ "$(grep -c running "$tmp/status")" -eq 0 ] || r=1
okf $r "... status then says stopped (exit not 0)" "$tmp/status"
set_conf_in "$A/mail.conf" routes "other.test=127.0.0.1:$smtpB refuse.test=127.0.0.1:$pport"
serve_start "$A" "$offA"
okf $? "scripts/serve start again, with routes in STATE/mail.conf" "$A.out"

serve_start "$B" "$offB" --domain other.test
okf $? "a second instance: --domain other.test, ports +$offB" "$B.out"
grep -q '^local_domains *= *other.test' "$B/mail.conf"; ok $? "... its mail.conf serves other.test"
MAIL_CONF=$B/mail.conf "$MAIL_USER" add user@other.test </dev/null >/dev/null
ok $? "mail-user add user@other.test to the running second instance"
printf 'alicepw\n' | MAIL_CONF=$A/mail.conf "$MAIL_USER" add alice@example.test --password-stdin >/dev/null &&
	MAIL_CONF=$A/mail.conf "$MAIL_USER" add stream@example.test </dev/null >/dev/null
ok $? "mail-user add alice and stream @example.test to the first"
printf 'alicepw\n' >"$tmp/alice-password"
demo=$(mailbox "$A" demo@example.test)
alice=$(mailbox "$A" alice@example.test)
stream=$(mailbox "$A" stream@example.test)
other=$(mailbox "$B" user@other.test)
case $demo in "$A"/vmail/*/Maildir) r=0 ;; *) r=1 ;; esac
ok $r "the demo's Maildir is under STATE/vmail"
[ $r -eq 0 ] || echo "#   mailbox: $demo"

# ---- 1. swaks to the MX, read back over IMAP and POP3 ----
cat >"$tmp/one.eml" <<EOF
From: Alice Remote <alice@remote.test>
To: demo@example.test
Subject: end to end, one
Message-ID: <one@e2e.test>
Date: Mon, 1 Jan 2024 10:00:00 +0000

A line.
.a line that starts with a dot
..and one with two
	a tab, and trailing blanks   
$(printf '%0.s0123456789' $(seq 1 90))

the last line
EOF
# swaks ends the data with a line end of its own: give it none
head -c -1 "$tmp/one.eml" >"$tmp/one.swaks"
swaks --server "127.0.0.1:$smtpA" --helo client.remote.test --from alice@remote.test \
	--to demo@example.test --data "$tmp/one.swaks" >"$tmp/swaks.out" 2>&1
okf $? "swaks to the MX port for demo@example.test" "$tmp/swaks.out"
wait_until 30 has_mail "$demo" "<one@e2e.test>"
ok $? "... it reaches the demo INBOX (new/ of the Maildir)"
f=$(find_mail "$demo" "<one@e2e.test>")
if [ -n "$f" ]; then
	cp "$f" "$tmp/one.stored"
	$E2E crlf "$tmp/one.stored" >"$tmp/one.want"
else
	: >"$tmp/one.want"
fi
# the body arrives as written, every dot and blank in place
sed '1,/^$/d' "$tmp/one.eml" >"$tmp/one.body"
sed '1,/^$/d' "$tmp/one.stored" 2>/dev/null | cmp - "$tmp/one.body" >"$tmp/cmp" 2>&1
okf $? "... the stored body is the body swaks sent, byte for byte" "$tmp/cmp"
grep -q '^Delivered-To: demo@example.test$' "$tmp/one.stored" 2>/dev/null &&
	grep -q '^Received: from client.remote.test' "$tmp/one.stored"
ok $? "... with Delivered-To: and mail-recv's Received:"
$E2E imap "$imapA" demo@example.test "$A/demo-password" "<one@e2e.test>" "$tmp/one.imap" 2>"$tmp/err"
ok $? "IMAP (STARTTLS, imaplib): demo logs in and finds the message"
[ -s "$tmp/err" ] && show "$tmp/err"
check "... BODY.PEEK[] is the delivered file with CR LF line ends, byte for byte" cmp "$tmp/one.imap" "$tmp/one.want"
$E2E imap "$imapsA" demo@example.test "$A/demo-password" "<one@e2e.test>" "$tmp/one.imaps" implicit 2>"$tmp/err"
ok $? "IMAPS: the same"
[ -s "$tmp/err" ] && show "$tmp/err"
check "... byte for byte" cmp "$tmp/one.imaps" "$tmp/one.want"
$E2E pop3 "$pop3A" demo@example.test "$A/demo-password" "<one@e2e.test>" "$tmp/one.pop3" 2>"$tmp/err"
ok $? "POP3 (STLS, poplib): demo logs in and RETR finds the message"
[ -s "$tmp/err" ] && show "$tmp/err"
check "... RETR gives the delivered file with CR LF line ends, byte for byte" cmp "$tmp/one.pop3" "$tmp/one.want"
$E2E pop3 "$pop3sA" demo@example.test "$A/demo-password" "<one@e2e.test>" "$tmp/one.pop3s" implicit 2>"$tmp/err"
ok $? "POP3S: the same"
[ -s "$tmp/err" ] && show "$tmp/err"
check "... byte for byte" cmp "$tmp/one.pop3s" "$tmp/one.want"

# ---- 2. submission, STARTTLS and AUTH, relayed to the other instance ----
cat >"$tmp/two.eml" <<EOF
From: Demo <demo@example.test>
To: user@other.test
Subject: end to end, two
Message-ID: <two@e2e.test>
Date: Mon, 1 Jan 2024 10:00:00 +0000

relayed from example.test to other.test
EOF
swaks --server "127.0.0.1:$subA" --helo client.example.test --tls \
	--auth PLAIN --auth-user demo@example.test --auth-password "$(cat "$A/demo-password")" \
	--from demo@example.test --to user@other.test --data "$tmp/two.eml" >"$tmp/swaks.out" 2>&1
okf $? "swaks to the submission port: STARTTLS, AUTH PLAIN as demo, to user@other.test" "$tmp/swaks.out"
wait_until 30 has_mail "$other" "<two@e2e.test>"
okf $? "... relayed through the route to the second instance, in user@other.test's INBOX" \
	"$A/log/runner.log" "$B/log/smtp.log" "$B/log/runner.log"
f=$(find_mail "$other" "<two@e2e.test>")
grep -qx 'relayed from example.test to other.test' "$f" 2>/dev/null; ok $? "... with its body"
grep -q 'ESMTPSA' "$f" 2>/dev/null; ok $? "... the first hop's Received: says ESMTPSA (TLS and AUTH)"
[ "$(grep -c '^Received:' "$f" 2>/dev/null)" -ge 2 ]; ok $? "... and both hops left a Received:"
is "$(ls "$A/queue/msg" 2>/dev/null | wc -l | tr -d ' ')" 0 "... and the first instance's queue is empty"

# ---- 3. refused at RCPT; a remote 550 bounces to the sender ----
out=$($E2E rcpt "$smtpA" alice@remote.test nobody@example.test 2>&1)
case $out in 550\ 5.1.1*) r=0 ;; *) r=1 ;; esac
ok $r "RCPT TO an unknown local user: 550 5.1.1 (smtplib)"
[ $r -eq 0 ] || echo "#   $out"
swaks --server "127.0.0.1:$smtpA" --from alice@remote.test --to nobody@example.test \
	--body "nobody" >"$tmp/swaks.out" 2>&1
r=$?
grep -q '<\*\* *550' "$tmp/swaks.out" && [ $r -ne 0 ]
ok $? "... swaks sees the 550 and fails (exit $r)"
b=$(count_mail "$demo")
printf 'From: demo@example.test\nTo: gone@refuse.test\nSubject: end to end, three\nMessage-ID: <three@e2e.test>\n\nto a server that says no\n' |
	$E2E submit "$subA" demo@example.test "$A/demo-password" demo@example.test gone@refuse.test >"$tmp/out" 2>&1
okf $? "demo submits to gone@refuse.test, whose server answers 550 at RCPT" "$tmp/out"
bounced() { [ "$(count_mail "$demo")" -gt "$b" ]; }
wait_until 30 bounced
okf $? "... a notice reaches demo's INBOX" "$A/log/runner.log"
# the notice holds the message: its Message-ID is in there
n=$(grep -l -x 'Message-ID: <three@e2e.test>' "$demo"/new/* "$demo"/cur/* 2>/dev/null | head -1)
if [ -n "$n" ]; then $E2E dsn "$n" >"$tmp/dsn" 2>&1; else echo "(no notice in demo's INBOX)" >"$tmp/dsn"; fi
is "$(sed -n 1p "$tmp/dsn")" "multipart/report delivery-status" "... an RFC 3464 report: multipart/report; report-type=delivery-status"
case $(sed -n 2p "$tmp/dsn") in
"failed 5.1.1 rfc822; gone@refuse.test | smtp; 550 5.1.1 <gone@refuse.test>: no such user here"*) r=0 ;;
*) r=1 ;;
esac
ok $r "... Action: failed, 5.1.1, the recipient, the peer's reply"
[ $r -eq 0 ] || show "$tmp/dsn"
grep -q 'RCPT TO gone@refuse.test' "$tmp/refuse/log" 2>/dev/null || grep -qi 'RCPT TO:<gone@refuse.test>' "$tmp/refuse/log"
ok $? "... the peer was asked"

# ---- 4. a trained filter: spam in Junk; EICAR marked or bounced ----
"$PYTHON3" - "$tmp" <<'PY'
import os, random, sys
d = sys.argv[1]
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ["top_srcdir"], "tests"))
import spamcorpus

def message(cls, r, i, tag):
    return spamcorpus.message(cls, r, i, tag, "demo@example.test", "e2e.test")

r = random.Random(27)
for c in ("spam", "ham"):
    os.mkdir(f"{d}/{c}")
    for i in range(40):
        with open(f"{d}/{c}/{i:02d}", "wb") as f:
            f.write(message(c, r, i, "train"))
for c, i in (("spam", 500), ("ham", 501)):
    with open(f"{d}/probe.{c}", "wb") as f:
        f.write(message(c, r, i, "probe"))
PY
# the runner's pipeline runs mail-filter with HOME the directory above the
# mailbox and MAIL_CONF the instance's: train through the same lookup
home=$(dirname "$demo")
HOME=$home MAIL_CONF=$A/mail.conf "$MAIL_FILTER" --train spam "$tmp/spam" 2>"$tmp/err" &&
	HOME=$home MAIL_CONF=$A/mail.conf "$MAIL_FILTER" --train ham "$tmp/ham" 2>>"$tmp/err"
ok $? "mail-filter --train: 40 spam and 40 ham into demo's database"
[ -s "$tmp/err" ] && show "$tmp/err"
out=$(HOME=$home MAIL_CONF=$A/mail.conf "$MAIL_FILTER" --check "$tmp/probe.spam" "$tmp/probe.ham" 2>&1 | cut -d, -f1 | tr '\n' '|')
is "$out" "$tmp/probe.spam: Yes|$tmp/probe.ham: No|" "... --check: the unseen spammy probe is Yes, the hammy one No"
$E2E send "$smtpA" promo500@deals.example.net demo@example.test <"$tmp/probe.spam" >"$tmp/out" 2>&1
ok $? "the spammy probe sent to the MX"
$E2E send "$smtpA" colleague501@corp.example.org demo@example.test <"$tmp/probe.ham" >"$tmp/out" 2>&1
ok $? "the hammy probe too"
wait_until 30 has_mail "$demo/.Junk" "<spam500.probe@e2e.test>"
r=$?
okf $r "the spam is in Junk: .Junk/ of demo's Maildir" "$A/log/runner.log"
[ $r -eq 0 ] || ls -R "$demo" | sed 's/^/#   /' | tail -30
grep -q '^X-Spam-Flag: YES$' "$(find_mail "$demo/.Junk" "<spam500.probe@e2e.test>")" 2>/dev/null
ok $? "... flagged X-Spam-Flag: YES"
wait_until 30 has_mail "$demo" "<ham501.probe@e2e.test>"
ok $? "the ham is in the INBOX"
grep -q '^X-Spam-Status: No' "$(find_mail "$demo" "<ham501.probe@e2e.test>")" 2>/dev/null
ok $? "... X-Spam-Status: No"
has_mail "$demo" "<spam500.probe@e2e.test>"
[ $? -ne 0 ]; ok $? "... and the spam is not in the INBOX"

# alice (an account with a password) sends demo a file carrying EICAR
eicar() {
	"$PYTHON3" - "$1" <<'PY'
import sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "alice@example.test"
m["To"] = "demo@example.test"
m["Subject"] = "the file you asked for"
m["Message-ID"] = sys.argv[1]
m.set_content("see the attachment\n")
m.add_attachment(b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
                 maintype="text", subtype="plain", filename="eicar.txt")
sys.stdout.buffer.write(m.as_bytes())
PY
}
set_conf_in "$A/mail.conf" reject_virus no
eicar "<eicar-marked@e2e.test>" | $E2E submit "$subA" alice@example.test "$tmp/alice-password" \
	alice@example.test demo@example.test >"$tmp/out" 2>&1
okf $? "reject_virus = no: alice submits an EICAR attachment to demo" "$tmp/out"
wait_until 30 has_mail "$demo" "<eicar-marked@e2e.test>"
ok $? "... delivered to demo's INBOX"
grep -q '^X-Virus-Status: Infected (.*EICAR' "$(find_mail "$demo" "<eicar-marked@e2e.test>")" 2>/dev/null
ok $? "... marked X-Virus-Status: Infected, naming EICAR"
set_conf_in "$A/mail.conf" reject_virus yes
a=$(count_mail "$alice")
eicar "<eicar-refused@e2e.test>" | $E2E submit "$subA" alice@example.test "$tmp/alice-password" \
	alice@example.test demo@example.test >"$tmp/out" 2>&1
ok $? "reject_virus = yes: alice submits another"
notice() { [ "$(count_mail "$alice")" -gt "$a" ]; }
wait_until 30 notice
okf $? "... a notice reaches alice's INBOX" "$A/log/runner.log"
if notice; then
	$E2E dsn "$(ls -t "$alice"/new/* "$alice"/cur/* | head -1)" >"$tmp/dsn" 2>&1
else
	echo "(no notice in alice's INBOX)" >"$tmp/dsn"
fi
case $(sed -n 2p "$tmp/dsn") in
"failed "*"rfc822; demo@example.test | "*"malware found: EICAR"*) r=0 ;;
*) r=1 ;;
esac
ok $r "... Action: failed for demo, the reason naming the finding"
[ $r -eq 0 ] || show "$tmp/dsn"
has_mail "$demo" "<eicar-refused@e2e.test>"
[ $? -ne 0 ]; ok $? "... and demo did not get the message"
is "$(ls "$A/queue/msg" 2>/dev/null | wc -l | tr -d ' ')" 0 "... nor does it wait in the queue"
set_conf_in "$A/mail.conf" reject_virus

# ---- 5. every service restarted in the middle of a stream of 500 ----
: >"$tmp/acks"
: >"$tmp/tried"
$E2E stream "$smtpA" 500 stream@example.test "$tmp/acks" "$tmp/tried" 120 2>"$tmp/stream.log" &
sender=$!
servers="$servers $sender"
acked() { [ "$(wc -l <"$tmp/acks")" -ge "$1" ]; }
# twice, to catch the services at different moments of their work
at_stop=
for at in 100 300; do
	wait_until 60 acked $at
	ok $? "the stream is under way: $at messages acknowledged"
	serve_stop "$A"
	okf $? "scripts/serve stop in the middle of the stream" "$A.out"
	at_stop="$at_stop $(wc -l <"$tmp/acks")"
	serve_start "$A" "$offA"
	okf $? "scripts/serve start again" "$A.out"
done
wait "$sender"
okf $? "the sender, retrying across the restart, finished" "$tmp/stream.log"
servers=${servers% $sender}
is "$(wc -l <"$tmp/acks" | tr -d ' ')" 500 "... with 250 for all 500"
[ "${at_stop##* }" -lt 500 ] && [ "$(grep -c 'Disconnected\|refused' "$tmp/stream.log")" -ge 2 ]
okf $? "... the restarts fell in the middle (acknowledged at each stop:$at_stop) and broke the sender's connection" \
	"$tmp/stream.log"
grep -m1 'message [0-9]*: ' "$tmp/stream.log" | sed 's/^/# the sender saw: /'
all_in() {
	[ "$(count_mail "$stream")" -ge 500 ] &&
		[ "$(ls "$A/queue/msg" 2>/dev/null | wc -l | tr -d ' ')" -eq 0 ]
}
wait_until 90 all_in
r=$?
ok $r "the runner delivers them all and the queue empties"
if [ $r -ne 0 ]; then
	echo "#   $(count_mail "$stream") in the mailbox, $(ls "$A/queue/msg" | wc -l | tr -d ' ') queued; mail-send --list:"
	MAIL_CONF=$A/mail.conf "$top_builddir/mail-send" --list 2>&1 | head -20 | sed 's/^/#   /'
fi
"$PYTHON3" - "$stream" "$tmp/acks" "$tmp/tried" >"$tmp/tally" 2>&1 <<'PY'
import collections, email, os, sys
box, acks, tried = sys.argv[1:]
seen = collections.Counter()
for sub in ("new", "cur"):
    for name in os.listdir(os.path.join(box, sub)):
        with open(os.path.join(box, sub, name), "rb") as f:
            seen[(email.message_from_binary_file(f)["Message-ID"] or "").strip()] += 1
acked = set(open(acks).read().split())
sent = set(open(tried).read().split())
# each attempt has a Message-ID of its own: an attempt that was not
# acknowledged may be delivered too (at least once), but no attempt twice
missing = sorted(acked - set(seen))
twice = sorted(m for m in seen if seen[m] > 1)
strangers = sorted(set(seen) - sent)
print("missing", len(missing), *missing[:10])
print("twice", len(twice), *twice[:10])
print("unknown", len(strangers), *strangers[:10])
print("# %d delivered: %d acknowledged, %d attempts not acknowledged but delivered anyway %s"
      % (sum(seen.values()), len(acked), len(set(seen) - acked), " ".join(sorted(set(seen) - acked))[:200]))
PY
is "$(sed -n 1p "$tmp/tally")" "missing 0" "every acknowledged message is in the mailbox"
is "$(sed -n 2p "$tmp/tally")" "twice 0" "... none twice"
is "$(sed -n 3p "$tmp/tally")" "unknown 0" "... and nothing else is there"
sed -n 4p "$tmp/tally"

# ---- the end: everything stops, nothing is left ----
serve_stop "$B"
okf $? "scripts/serve stop, the second instance" "$B.out"
serve_stop "$A"
okf $? "scripts/serve stop, the first" "$A.out"
# any process left reads one of our mail.conf files
left() {
	for _e in /proc/[0-9]*/environ; do
		{ tr '\0' '\n' <"$_e"; } 2>/dev/null | grep -q -x -F -e "MAIL_CONF=$A/mail.conf" -e "MAIL_CONF=$B/mail.conf" &&
			echo "${_e%/environ}"
	done
}
none_left() { [ -z "$(left)" ]; }
wait_until 10 none_left
r=$?
ok $r "no process of either instance is left"
[ $r -eq 0 ] || for _p in $(left); do echo "#   ${_p#/proc/}: $(tr '\0' ' ' <"$_p/cmdline")"; done
"$PYTHON3" - $smtpA $subA $smtpsA $imapA $imapsA $pop3A $pop3sA $smtpB $subB <<'PY'
import socket, sys
for p in sys.argv[1:]:
    try:
        socket.create_connection(("127.0.0.1", int(p)), 1).close()
        sys.exit("port %s still answers" % p)
    except OSError:
        pass
PY
ok $? "... and no port answers"
if grep -l -e 'AddressSanitizer' -e 'runtime error:' -e 'LeakSanitizer' "$A"/log/*.log "$B"/log/*.log >"$tmp/san" 2>/dev/null; then
	ok 1 "no sanitizer report in the services' logs"
	for l in $(cat "$tmp/san"); do echo "# $l:"; grep -A20 -e 'AddressSanitizer' -e 'runtime error:' -e 'LeakSanitizer' "$l" | sed 's/^/#   /' | head -40; done
else
	ok 0 "no sanitizer report in the services' logs"
fi

done_testing
