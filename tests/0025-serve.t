#!/bin/sh
# scripts/serve as a user runs it, on the programs of this build: start
# in the background, status, the swaks and curl lines it prints run as
# printed, IMAP and POP3 over STARTTLS/STLS and implicit TLS with Python,
# submission with AUTH, an account added to the running server, stop
# leaving no process, mail kept across a restart, a second instance beside
# the first, and the foreground mode stopped by a signal.
. "${top_srcdir:-.}/tests/lib.sh"

SERVE=$top_srcdir/scripts/serve
state=$tmp/state
other=$tmp/other
serve() { "$SERVE" "$@" --bin "$top_builddir"; }
trap '"$SERVE" stop --state "$state" >/dev/null 2>&1; "$SERVE" stop --state "$other" >/dev/null 2>&1
	rm -rf "$tmp"' EXIT

# Ports from an offset derived from the pid, 20000 to 28999 (the highest
# port, 2995 + offset, stays below Linux's ephemeral range), another one
# when a port is busy.
off=$((20000 + $$ % 9000))
for _ in 1 2 3 4 5; do
	serve start --no-build --state "$state" --port-offset "$off" >"$tmp/start.out" 2>"$tmp/start.err"
	rc=$?
	grep -q 'is busy' "$tmp/start.err" || break
	off=$((20000 + (off + 997) % 9000))
done
is "$rc" 0 "scripts/serve start exits 0 once every port answers"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$tmp/start.err"
smtp=$((2525 + off)) sub=$((2587 + off)) imap=$((2143 + off)) imaps=$((2993 + off))
pop3=$((2110 + off)) pop3s=$((2995 + off))
demo=demo@example.test
pw=$(cat "$state/demo-password")
is "$(stat -c %a "$state/demo-password")" 600 "the demo password is in STATE/demo-password, mode 0600"
grep -q "password $pw" "$tmp/start.out"; ok $? "... and printed"
for f in mail.conf users aliases tls/cert.pem tls/key.pem; do
	test -s "$state/$f"; ok $? "STATE/$f is made"
done
grep -qx 'local_domains = example.test' "$state/mail.conf"; ok $? "... local_domains = example.test"
serve status --state "$state" >"$tmp/status"
is "$?/$(grep -c ' running$' "$tmp/status")" 0/8 "status: eight services running, exit 0"
grep -qx "imaps *$imaps *running" "$tmp/status"; ok $? "... each with its port"
serve start --no-build --state "$state" --port-offset "$off" >"$tmp/again" 2>&1
is "$?" 0 "start when running exits 0"
grep -q 'already running' "$tmp/again"; ok $? "... saying so"

# The lines it prints, run as printed.
grep -E '^  swaks --server 127.0.0.1:'"$smtp"' ' "$tmp/start.out" | sed -n 1p >"$tmp/swaks.sh"
grep -E '^  curl ' "$tmp/start.out" >"$tmp/curl.sh"
grep -E '^  swaks --server 127.0.0.1:'"$sub"' ' "$tmp/start.out" >"$tmp/submit.sh"
is "$(cat "$tmp/swaks.sh" "$tmp/curl.sh" "$tmp/submit.sh" | wc -l | tr -d ' ')" 3 \
	"it prints a swaks line, a curl line and a submission line"
sh "$tmp/swaks.sh" >"$tmp/swaks.out" 2>&1
grep -q '^<-  250 2.0.0 Ok: queued' "$tmp/swaks.out"; ok $? "the swaks line: the message is queued"
maildir=$state/vmail/example.test/demo/Maildir
n=0
while [ "$(ls "$maildir/new" | wc -l)" -lt 1 ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
is "$(ls "$maildir/new" | wc -l | tr -d ' ')" 1 "... the runner delivers it to STATE/vmail/example.test/demo/Maildir"
# a copy: the IMAP sessions below move the file to cur/
f=$tmp/msg
cp "$maildir/new/"* "$f"
grep -q '^X-Virus-Status: Clean' "$f"; ok $? "... through mail-filter"
sh "$tmp/curl.sh" >"$tmp/curl.out" 2>/dev/null
ok $? "the curl line (imaps, the certificate checked) exits 0"
subject=$(grep '^Subject:' "$f")
grep -qF "$subject" "$tmp/curl.out"; ok $? "... and prints the message"

# Python's clients on every port, the certificate checked.
"$PYTHON3" - "$state/tls/cert.pem" "$pw" "$f" $imap $imaps $pop3 $pop3s >"$tmp/py.out" 2>&1 <<'PY'
import imaplib, poplib, ssl, sys
ca, pw, path = sys.argv[1:4]
imap, imaps, pop3, pop3s = map(int, sys.argv[4:8])
want = open(path, "rb").read().replace(b"\n", b"\r\n")
ctx = ssl.create_default_context(cafile=ca)
u = "demo@example.test"
m = imaplib.IMAP4("127.0.0.1", imap)
m.starttls(ssl_context=ctx)
m.login(u, pw)
m.select("INBOX")
got = m.fetch("1", "(BODY.PEEK[])")[1][0][1]
print("imap", "same" if got == want else "differs")
m.logout()
m = imaplib.IMAP4_SSL("127.0.0.1", imaps, ssl_context=ctx)
m.login(u, pw)
print("imaps", m.select("INBOX")[1][0].decode())
m.logout()
p = poplib.POP3("127.0.0.1", pop3)
p.stls(context=ctx)
p.user(u)
p.pass_(pw)
got = b"\r\n".join(p.retr(1)[1]) + b"\r\n"
print("pop3", "same" if got == want else "differs")
p.quit()
p = poplib.POP3_SSL("127.0.0.1", pop3s, context=ctx)
p.user(u)
p.pass_(pw)
print("pop3s", p.stat()[0])
p.quit()
PY
grep -qx 'imap same' "$tmp/py.out"; ok $? "IMAP with STARTTLS (imaplib): the message byte for byte"
grep -qx 'imaps 1' "$tmp/py.out"; ok $? "IMAPS: one message in INBOX"
grep -qx 'pop3 same' "$tmp/py.out"; ok $? "POP3 with STLS (poplib): the message byte for byte"
grep -qx 'pop3s 1' "$tmp/py.out"; ok $? "POP3S: one message"
grep -q Error "$tmp/py.out" && sed 's/^/#   /' "$tmp/py.out"

# Submission: AUTH after STARTTLS, as printed, and relaying for the account.
sh "$tmp/submit.sh" >"$tmp/submit.out" 2>&1
grep -q '^<~  235 ' "$tmp/submit.out"; ok $? "the submission line authenticates after STARTTLS"
grep -q '^<~  250 2.0.0 Ok: queued' "$tmp/submit.out"; ok $? "... and its message is queued"
swaks --server 127.0.0.1:$sub --tls --auth LOGIN --auth-user $demo --auth-password "$pw" \
	--from $demo --to someone@relay.invalid --quit-after RCPT >"$tmp/relay.out" 2>&1
grep -q '^<~  250 2.1.5 ' "$tmp/relay.out"; ok $? "AUTH LOGIN: an authenticated client may relay"
swaks --server 127.0.0.1:$smtp --to someone@relay.invalid --quit-after RCPT >"$tmp/norelay.out" 2>&1
grep -q '^<\*\* *554 5.7.1' "$tmp/norelay.out"; ok $? "... an anonymous one may not (554 5.7.1)"
n=0
while [ "$(ls "$maildir/new" "$maildir/cur" | grep -c ,S=)" -lt 2 ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
is "$(ls "$maildir/new" "$maildir/cur" | grep -c ,S=)" 2 "the submitted message is delivered"

# An account added with the mail.conf of the running server. Its mailbox
# is made by its first delivery (mail-pop3d started as root would serve a
# missing one as 'nobody', mail-pop3d(8)).
echo secret | MAIL_CONF=$state/mail.conf "$MAIL_USER" add bob@example.test --password-stdin >/dev/null 2>&1
swaks --server 127.0.0.1:$smtp --to bob@example.test >"$tmp/bob.swaks" 2>&1
grep -q '^<-  250 2.0.0 Ok: queued' "$tmp/bob.swaks"; ok $? "MAIL_CONF=STATE/mail.conf mail-user add: the running server takes mail for it"
n=0
while [ ! -d "$state/vmail/example.test/bob/Maildir/new" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
"$PYTHON3" -c "import poplib, ssl, sys; c = ssl.create_default_context(cafile=sys.argv[1]); \
p = poplib.POP3_SSL('127.0.0.1', int(sys.argv[2]), context=c); p.user('bob@example.test'); \
p.pass_('secret'); print(p.stat()[0]); p.quit()" "$state/tls/cert.pem" $pop3s >"$tmp/bob.out" 2>&1
is "$(cat "$tmp/bob.out")" 1 "... and the account reads it over POP3S"

# no_process_left: nothing of the pids the last start wrote still runs,
# and nothing listens on its ports any more
no_process_left() {
	for g in $pgids; do
		for s in /proc/[0-9]*/stat; do
			l=$(cat "$s" 2>/dev/null) || continue
			l=${l##*) }
			set -- $l
			[ "$3" = "$g" ] && return 1
		done
	done
	for p in $smtp $sub $imap $imaps $pop3 $pop3s; do
		(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && return 1
	done
	return 0
}
pgids=$(cat "$state"/run/*.pid)
is "$(echo $pgids | wc -w)" 8 "eight process groups in STATE/run/*.pid"
serve stop --state "$state" >/dev/null
is "$?" 0 "stop exits 0"
check "... and leaves no process and no listening port" no_process_left
serve status --state "$state" >"$tmp/status"
is "$?/$(grep -c ' stopped$' "$tmp/status")" 3/8 "status: eight services stopped, exit 3"

# A restart reuses the state: the same password, the mail still there.
serve start --no-build --state "$state" --port-offset "$off" >"$tmp/start2.out" 2>&1
is "$?" 0 "start again"
grep -q "password $pw" "$tmp/start2.out"; ok $? "... with the same password"
sh "$tmp/curl.sh" >"$tmp/curl2.out" 2>/dev/null
grep -qF "$subject" "$tmp/curl2.out"; ok $? "... the mail survived the restart"

# A second instance beside the first.
off2=$((off + 1000))
[ $off2 -lt 29000 ] || off2=$((off - 1000))
serve start --no-build --state "$other" --port-offset "$off2" --domain other.test >"$tmp/other.out" 2>&1
is "$?" 0 "a second instance with --port-offset and --domain other.test"
grep -q "Account demo@other.test" "$tmp/other.out"; ok $? "... its own domain and account"
"$SERVE" status --state "$state" >/dev/null && "$SERVE" status --state "$other" >/dev/null
ok $? "... both run"
pgids="$pgids $(cat "$other"/run/*.pid)"
"$SERVE" stop --state "$other" >/dev/null
pgids=$(cat "$state"/run/*.pid)
"$SERVE" stop --state "$state" >/dev/null
check "both stopped, no process left" no_process_left

# The foreground mode: TERM (as Ctrl-C's INT) stops everything and exits 0.
"$SERVE" --no-build --bin "$top_builddir" --state "$state" --port-offset "$off" >"$tmp/fg.out" 2>&1 &
fg=$!
n=0
until grep -q 'Ctrl-C stops it' "$tmp/fg.out" 2>/dev/null || [ $n -ge 200 ]; do sleep 0.1; n=$((n + 1)); done
"$SERVE" status --state "$state" >/dev/null; ok $? "the foreground mode starts every service"
pgids=$(cat "$state"/run/*.pid)
kill -TERM $fg
wait $fg
is "$?" 0 "... a signal stops it, exit 0"
check "... leaving no process" no_process_left

# The services' logs, one per service, checked for sanitizer reports.
ls "$state/log" | sort | tr '\n' ' ' >"$tmp/logs"
is "$(cat "$tmp/logs")" "imap.log imaps.log pop3.log pop3s.log runner.log smtp.log smtps.log submission.log " \
	"one log per service in STATE/log"
cat "$state"/log/*.log "$other"/log/*.log >"$tmp/server.log"
done_testing
