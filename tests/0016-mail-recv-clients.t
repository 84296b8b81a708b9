#!/bin/sh
# mail-recv under tcpserver, driven by real third-party clients (swaks,
# curl, msmtp, gnutls-cli) and by hostile byte streams: 10 000 pipelined
# recipients, slowloris, an idle client, EOF mid-command and mid-DATA, and
# the 512-octet command line limit (RFC 5321 4.5.3.1.4).
. "${top_srcdir:-.}/tests/lib.sh"

MAIL_RECV=$top_builddir/mail-recv
use_mail_conf "example.org"
echo "queue_dir = $tmp/queue" >>"$tmp/mail.conf"
# with SCRAM secrets, so a client may pick any mechanism the server offers
echo pw | mu add bob@example.org --password-stdin
echo pw3 | mu add carol@example.org --password-stdin
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-subj /CN=mx.example.org -days 2 2>/dev/null
ok $? "a self-signed certificate"
TLS="--cert $tmp/cert.pem --key $tmp/key.pem"
raw() { "$PYTHON3" "$top_srcdir/tests/smtpraw.py" "$port"; }
# landed SUBJECT: how many queued messages carry exactly this Subject:
landed() { grep -lx "Subject: $1" "$tmp/queue/msg/"* 2>/dev/null | wc -l | tr -d ' '; }
# client_ok DESCRIPTION COMMAND...: the client exits 0; its output is kept
# in $tmp/client.out and shown on failure
client_ok() {
	_d=$1
	shift
	"$@" >"$tmp/client.out" 2>&1
	_rc=$?
	if [ "$_rc" -eq 0 ]; then
		ok 0 "$_d"
	else
		ok 1 "$_d"
		echo "# exit $_rc, output:"
		tail -20 "$tmp/client.out" | sed 's/^/#   /'
	fi
}
# log_mark / log_new: the server log lines written since the mark
log_mark() { mark=$(cat "$tmp/server.log" 2>/dev/null | wc -l); }
log_new() { tail -n "+$((mark + 1))" "$tmp/server.log"; }

# ---- swaks ----
start_tcpserver "$MAIL_RECV" --hostname mx.example.org $TLS
sw() { swaks --server 127.0.0.1 --port "$port" --helo client.test --timeout 10 "$@"; }
client_ok "swaks: a plain send to a local user" \
	sw --from alice@remote.test --to bob@example.org --header "Subject: swaks plain"
is "$(queued)" 1 "... one message in the queue"
is "$(landed 'swaks plain')" 1 "... the one swaks sent"
grep -q '^rcpt	bob@example.org' "$(newest)"; ok $? "... for bob"

client_ok "swaks --pipeline" \
	sw --pipeline --from alice@remote.test --to bob@example.org --header "Subject: swaks pipeline"
grep -q 'PIPELINING' "$tmp/client.out"; ok $? "... PIPELINING advertised"
is "$(landed 'swaks pipeline')" 1 "... queued"

n=$(queued)
sw --from bob@example.org --to x@elsewhere.test --auth PLAIN \
	--auth-user bob@example.org --auth-password pw >"$tmp/client.out" 2>&1
[ $? -ne 0 ]; ok $? "swaks --auth without TLS fails: AUTH is not offered in plaintext"
is "$(queued)" "$n" "... and nothing is queued"

for mech in PLAIN LOGIN; do
	client_ok "swaks -tls --auth $mech, relaying as the user" \
		sw -tls --auth "$mech" --auth-user bob@example.org --auth-password pw \
		--from bob@example.org --to x@elsewhere.test --header "Subject: swaks tls $mech"
	is "$(landed "swaks tls $mech")" 1 "... queued"
	f=$(grep -lx "Subject: swaks tls $mech" "$tmp/queue/msg/"* | head -1)
	grep -q 'with ESMTPSA id' "$f"; ok $? "... Received: says ESMTPSA"
	grep -q "(Authenticated sender: bob@example.org)" "$f"; ok $? "... with the authenticated user"
done
client_ok "swaks -tls --auth with a wrong password fails" \
	sh -c 'swaks --server 127.0.0.1 --port "$1" --timeout 10 -tls --auth PLAIN \
		--auth-user bob@example.org --auth-password wrong \
		--from bob@example.org --to x@elsewhere.test; [ $? -ne 0 ]' sh "$port"
grep -q '535 5.7.8' "$tmp/client.out"; ok $? "... with 535 5.7.8"

# ---- curl, same server ----
printf 'From: alice@remote.test\r\nTo: bob@example.org\r\nSubject: curl plain\r\n\r\nhello from curl\r\n.a dot line\r\n' >"$tmp/curl1.eml"
client_ok "curl smtp:// plain" \
	curl -sS --max-time 10 --url "smtp://127.0.0.1:$port" --mail-from alice@remote.test \
	--mail-rcpt bob@example.org --upload-file "$tmp/curl1.eml"
is "$(landed 'curl plain')" 1 "... queued"
grep -qxF '.a dot line' "$(newest)"; ok $? "... dot-stuffed by curl, unstuffed by the server"
printf 'From: bob@example.org\r\nTo: x@elsewhere.test\r\nSubject: curl starttls\r\n\r\nx\r\n' >"$tmp/curl2.eml"
client_ok "curl --ssl-reqd (STARTTLS) with --user: AUTH, then relaying" \
	curl -sS --max-time 10 --ssl-reqd -k --url "smtp://127.0.0.1:$port" --user bob@example.org:pw \
	--mail-from bob@example.org --mail-rcpt x@elsewhere.test --upload-file "$tmp/curl2.eml"
is "$(landed 'curl starttls')" 1 "... queued"
grep -q 'with ESMTPSA id' "$(newest)"; ok $? "... over TLS, authenticated"

# ---- hostile streams, same server ----
# a command line of exactly 510 octets + CRLF is allowed, 511 is not
pad=$(head -c 505 /dev/zero | tr '\0' x)
out=$(printf 'EHLO c\r\nNOOP %s\r\nNOOP %sx\r\nQUIT\r\n' "$pad" "$pad" | raw)
is "$(printf '%s\n' "$out" | sed -n '/^250 /,$p' | sed 1d | tr '\n' '|')" \
	"250 2.0.0 Ok|500 5.5.2 Line too long|221 2.0.0 Bye|" "510 octets + CRLF: 250; 511: 500 5.5.2"
out=$(printf 'EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.org%s>\r\nQUIT\r\n' \
	"$(head -c 486 /dev/zero | tr '\0' y)" | raw)
printf '%s\n' "$out" | grep -q '^500 5.5.2 Line too long'; ok $? "a 511-octet RCPT: 500 5.5.2"

# a last command without CRLF, then EOF
log_mark
out=$(printf 'EHLO c\r\nNOOP' | raw)
is "$(printf '%s\n' "$out" | grep -c '^[0-9][0-9][0-9] ')" 2 "no CRLF then EOF: the greeting and EHLO answered, the partial line not"
sleep 0.2
is "$(log_new | grep -Ev 'connection (lost|closed)|session end' )" "" "... nothing logged but the session end"
printf 'EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.org>\r\nNOOP' >"$tmp/nocrlf.in"
"$MAIL_RECV" --hostname mx.example.org <"$tmp/nocrlf.in" >"$tmp/direct.out" 2>"$tmp/direct.err"
is "$?" 0 "... run directly on a file: exit 0, no crash"
is "$(tr -d '\r' <"$tmp/direct.out" | tail -1)" "250 2.1.5 Ok" "... the last full command answered"
is "$(grep -Ev 'connection (lost|closed)|session end' "$tmp/direct.err")" "" "... and no error on stderr"

# EOF in the middle of DATA: nothing queued, no temporary file left
n=$(queued)
for what in "mid-line" "after a CRLF" "after CRLF ." "after CRLF . CR" "after LF . LF"; do
	case $what in
	mid-line) rest='partial' ;;
	"after a CRLF") rest='line\r\n' ;;
	"after CRLF .") rest='line\r\n.' ;;
	"after CRLF . CR") rest='line\r\n.\r' ;;
	*) rest='line\n.\n' ;;
	esac
	log_mark
	out=$(printf 'EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: cut\r\n\r\n%s' "$rest" | raw)
	printf '%s\n' "$out" | tail -1 | grep -q '^354 '; ok $? "EOF in DATA $what: the last reply is 354"
	sleep 0.2
	log_new | grep -q 'lost in DATA'; ok $? "... logged as lost in DATA"
done
is "$(queued)" "$n" "... nothing queued"
is "$(ls -A "$tmp/queue/tmp" | wc -l | tr -d ' ')" 0 "... nothing left in the queue's tmp/"
stop_tcpserver

# ---- implicit TLS: swaks --tlsc, curl smtps://, gnutls-cli ----
start_tcpserver "$MAIL_RECV" --hostname mx.example.org $TLS --tls
client_ok "swaks --tlsc --auth PLAIN" \
	sw --tlsc --auth PLAIN --auth-user bob@example.org --auth-password pw \
	--from bob@example.org --to x@elsewhere.test --header "Subject: swaks tlsc"
is "$(landed 'swaks tlsc')" 1 "... queued"
client_ok "swaks --tlsc, no AUTH, to a local user" \
	sw --tlsc --from alice@remote.test --to bob@example.org --header "Subject: swaks tlsc local"
is "$(landed 'swaks tlsc local')" 1 "... queued"
printf 'From: bob@example.org\r\nSubject: curl smtps\r\n\r\nx\r\n' >"$tmp/curl3.eml"
client_ok "curl smtps:// with --user" \
	curl -sS --max-time 10 -k --url "smtps://127.0.0.1:$port" --user bob@example.org:pw \
	--mail-from bob@example.org --mail-rcpt x@elsewhere.test --upload-file "$tmp/curl3.eml"
is "$(landed 'curl smtps')" 1 "... queued"
# stdin stays open until the replies are in: gnutls-cli stops reading the
# server once its stdin ends
out=$({ printf 'EHLO c\r\n'; sleep 1; printf 'QUIT\r\n'; sleep 1; } | gnutls-cli --insecure -p "$port" 127.0.0.1 2>/dev/null | tr -d '\r')
printf '%s\n' "$out" | grep -q '^250-AUTH PLAIN LOGIN'; ok $? "gnutls-cli on --tls: AUTH offered at once"
is "$(printf '%s\n' "$out" | grep -c STARTTLS)" 0 "... STARTTLS not offered inside TLS"
printf '%s\n' "$out" | grep -q '^221 2.0.0'; ok $? "... QUIT: 221"
stop_tcpserver

# ---- msmtp as a submission client ----
start_tcpserver "$MAIL_RECV" --hostname mx.example.org --submission $TLS
msmtprc() {
	cat >"$tmp/msmtprc" <<EOF
account default
host 127.0.0.1
port $port
timeout 10
tls on
tls_starttls on
tls_certcheck off
auth on
user bob@example.org
password pw
from $1
EOF
	chmod 600 "$tmp/msmtprc"
}
msmtprc bob@example.org
printf 'From: bob@example.org\nTo: x@elsewhere.test, carol@example.org\nSubject: msmtp submission\n\nfrom msmtp\n' >"$tmp/msmtp.eml"
client_ok "msmtp -t: STARTTLS, AUTH, send as the user" msmtp -C "$tmp/msmtprc" -t <"$tmp/msmtp.eml"
is "$(landed 'msmtp submission')" 1 "... queued"
f=$(grep -lx "Subject: msmtp submission" "$tmp/queue/msg/"* | head -1)
is "$(grep -E '^(sender|rcpt)' "$f" | cut -f1,2 | tr '\t\n' ' |')" \
	"sender bob@example.org|rcpt x@elsewhere.test|rcpt carol@example.org|" "... the envelope from the headers"
grep -q "(Authenticated sender: bob@example.org)" "$f"; ok $? "... Received: names the user"
n=$(queued)
msmtprc carol@example.org
printf 'From: carol@example.org\nTo: x@elsewhere.test\nSubject: msmtp forged\n\nx\n' >"$tmp/msmtp2.eml"
msmtp -C "$tmp/msmtprc" -t <"$tmp/msmtp2.eml" >"$tmp/client.out" 2>&1
rc=$?
[ "$rc" -ne 0 ]; ok $? "msmtp with a from address the user does not own fails (exit $rc)"
grep -q '553' "$tmp/client.out"; ok $? "... the server said 553"
is "$(queued)" "$n" "... and nothing is queued"
stop_tcpserver

# ---- 10 000 recipients pipelined in one transaction ----
rm -f "$tmp/rss"
# peak RSS by /usr/bin/time; in a sanitizer build, without ASan's quarantine
# of freed blocks (up to 256 MiB), so the figure is the program's own
start_tcpserver env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
	/usr/bin/time -f %M -o "$tmp/rss" "$MAIL_RECV" --hostname mx.example.org --relay-from 127.0.0.0/8
out=$("$PYTHON3" - "$port" <<'PY'
import socket, sys, threading, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
s.settimeout(10)
f = s.makefile("rb")
t0 = time.monotonic()
def reply():
    lines = []
    while True:
        l = f.readline()
        if not l:
            print("closed after", len(lines), "lines")
            sys.exit(0)
        lines.append(l.decode("latin-1").rstrip("\r\n"))
        if lines[-1][3:4] != "-":
            return lines
try:
    reply()
    s.sendall(b"EHLO c\r\n")
    reply()
    batch = b"MAIL FROM:<a@remote.test>\r\n" + b"".join(
        b"RCPT TO:<r%d@elsewhere.test>\r\n" % i for i in range(10000)) + b"DATA\r\n"
    threading.Thread(target=s.sendall, args=(batch,), daemon=True).start()
    print(reply()[-1])
    counts = {}
    for i in range(10000):
        r = reply()[-1]
        counts[r] = counts.get(r, 0) + 1
    for k in sorted(counts):
        print(counts[k], k)
    print(reply()[-1][:3])
    s.sendall(b"Subject: many\r\n\r\nx\r\n.\r\n")
    print(reply()[-1][:23])
    s.sendall(b"NOOP\r\nQUIT\r\n")
    print(reply()[-1])
    print(reply()[-1])
    print("fast" if time.monotonic() - t0 < 5 else "slow: %.1f s" % (time.monotonic() - t0))
except socket.timeout:
    print("timeout")
PY
)
is "$(printf '%s\n' "$out" | sed -n 1p)" "250 2.1.0 Ok" "10 000 RCPT: MAIL accepted"
is "$(printf '%s\n' "$out" | sed -n 2,3p | tr '\n' '|')" "1000 250 2.1.5 Ok|9000 452 4.5.3 Too many recipients|" \
	"... every RCPT answered: 1000 accepted, 9000 452 4.5.3"
is "$(printf '%s\n' "$out" | sed -n 4,5p | tr '\n' '|')" "354|250 2.0.0 Ok: queued as|" "... DATA queues the message"
is "$(printf '%s\n' "$out" | sed -n 6,8p | tr '\n' '|')" "250 2.0.0 Ok|221 2.0.0 Bye|fast|" \
	"... NOOP and QUIT answered, all within 5 s"
f=$(grep -lx 'Subject: many' "$tmp/queue/msg/"* | head -1)
is "$(grep '^rcpt	' "${f:-/dev/null}" | cut -f2 | tr '\n' ' ')" "$(seq -f 'r%.0f@elsewhere.test' 0 999 | tr '\n' ' ')" \
	"... with the first 1000 recipients in the envelope, in order"
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$tmp/rss" ] && break; sleep 0.1; done
rss=$(tail -1 "$tmp/rss")
[ -n "$rss" ] && [ "$rss" -lt 65536 ]; ok $? "... peak memory bounded (${rss:-?} KiB < 64 MiB)"
stop_tcpserver

# ---- slowloris (in a command and in DATA) and an idle client, at once ----
# (the session limit is 2 s beyond the idle one, so that a loaded machine
# slow to start the server does not make the idle client's limit the
# session's)
start_tcpserver "$MAIL_RECV" --hostname mx.example.org --timeout 2 --session-timeout 4
# loris MODE: idle sends nothing; cmd drips a never-ending command, data a
# never-ending message, a byte every 0.5 s. Prints what the server said
# (after the greeting, or after the 354), whether it closed, and the
# seconds since the connection; gives up after 7 s.
loris() { "$PYTHON3" - "$port" "$1" <<'PY'
import socket, sys, time
t0 = time.monotonic()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
mode = sys.argv[2]
s.settimeout(5)
f = s.makefile("rb")
f.readline()
if mode == "cmd":
    s.sendall(b"NOOP ")
elif mode == "data":
    s.sendall(b"EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: loris\r\n\r\n")
    while not f.readline().startswith(b"354"):
        pass
s.settimeout(0.5)
got, closed = b"", False
while time.monotonic() - t0 < 7:
    try:
        chunk = s.recv(512)
    except socket.timeout:
        if mode != "idle":
            try:
                s.sendall(b"x")
            except OSError:
                closed = True
                break
        continue
    except OSError:
        closed = True
        break
    if not chunk:
        closed = True
        break
    got += chunk
print(got.decode("latin-1").strip().replace("\r\n", "|") or "nothing")
print("closed" if closed else "open")
print("%.0f" % (time.monotonic() - t0))
PY
}
n=$(queued)
loris cmd >"$tmp/cmd.out" &
cmdpid=$!
loris data >"$tmp/data.out" &
datapid=$!
loris idle >"$tmp/idle.out"
wait "$cmdpid" "$datapid"
for m in cmd data; do
	what="slowloris in a command (a byte every 0.5 s)"
	[ "$m" = data ] && what="slowloris in DATA (a byte every 0.5 s)"
	sed -n 1p "$tmp/$m.out" | grep -q '^421 4.4.2 '; ok $? "$what: 421 4.4.2"
	is "$(sed -n 2p "$tmp/$m.out")" closed "... and the connection closed"
	t=$(sed -n 3p "$tmp/$m.out")
	[ "$t" -ge 3 ] && [ "$t" -le 6 ]; ok $? "... by --session-timeout 4 (after ${t}s)"
	[ "$t" -ge 3 ] && [ "$t" -le 6 ] && sed -n 1p "$tmp/$m.out" | grep -q '^421 ' || sed 's/^/#   /' "$tmp/$m.out"
done
is "$(queued)" "$n" "... nothing queued from the DATA slowloris"
is "$(ls -A "$tmp/queue/tmp" | wc -l | tr -d ' ')" 0 "... nothing left in the queue's tmp/"
is "$(sed -n 1,2p "$tmp/idle.out" | tr '\n' '|')" "421 4.4.2 Timeout, closing the connection|closed|" \
	"an idle client: 421 after --timeout, then closed"
t=$(sed -n 3p "$tmp/idle.out")
[ "$t" -ge 1 ] && [ "$t" -le 3 ]; ok $? "... after --timeout 2 (${t}s)"
stop_tcpserver

done_testing
