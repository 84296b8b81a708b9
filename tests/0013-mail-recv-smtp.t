#!/bin/sh
# mail-recv under tcpserver on loopback, with Python's smtplib and raw
# byte streams: the protocol, policy, limits and the hand-off to the queue.
. "${top_srcdir:-.}/tests/lib.sh"

MAIL_RECV=$top_builddir/mail-recv
use_mail_conf "example.org"
echo "queue_dir = $tmp/queue" >>"$tmp/mail.conf"
echo pw | mu add bob@example.org --password-stdin --no-scram
mu alias add postmaster bob
raw() { "$PYTHON3" "$top_srcdir/tests/smtpraw.py" "$port"; }
# body FILE: the message in a queue file, without the envelope and our Received:
body() { sed '1,/^$/d' "$1" | awk 'skip && /^\t/ { next } { skip = 0 } /^Received: / && !done { skip = 1; done = 1; next } { print }'; }
smtp() { "$PYTHON3" -c "
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', $port, timeout=10)
$1
"; }

start_tcpserver "$MAIL_RECV" --hostname mx.example.org --max-size 100000 --max-rcpt 3 \
	--max-errors 5 --auth-plaintext

# ---- the basics, with smtplib ----
out=$(smtp "print(s.ehlo()[1].decode())")
for kw in PIPELINING 'SIZE 100000' 8BITMIME SMTPUTF8 ENHANCEDSTATUSCODES CHUNKING DSN 'AUTH PLAIN LOGIN SCRAM-SHA-256'; do
	is "$(printf '%s\n' "$out" | grep -cx "$kw")" 1 "EHLO advertises $kw"
done
is "$(printf '%s\n' "$out" | grep -c STARTTLS)" 0 "no STARTTLS without a certificate"
out=$(smtp "print(s.sendmail('alice@remote.test', ['bob@example.org'], b'Subject: one\r\n\r\nline\r\n.starts with a dot\r\n'))")
is "$out" "{}" "smtplib sends to a local account"
is "$(queued)" 1 "... one message in the queue"
f=$(ls "$tmp/queue/msg/"* | head -1)
is "$(sed -n '1,/^$/p' "$f" | cut -f1 | tr '\n' ' ')" "mail-queue size arrival sender client rcpt  " "the envelope lines"
is "$(grep '^size' "$f" | cut -f2 | sed 's/^0*//')" "$(sed '1,/^$/d' "$f" | wc -c | tr -d ' ')" "size: the length of the message part"
is "$(grep '^sender' "$f" | cut -f2)" "alice@remote.test" "... with the sender"
is "$(grep '^rcpt' "$f" | cut -f2)" "bob@example.org" "... and the recipient"
check "a Received: header with the HELO, the IP and the queue id" \
	grep -q "^Received: from .*\[127.0.0.1\]" "$f"
check "... for the one recipient" grep -q "for <bob@example.org>;" "$f"
is "$(body "$f")" "$(printf 'Subject: one\n\nline\n.starts with a dot')" "the message, dot-unstuffed, LF line ends"
grep -q "result=\"250\"" "$tmp/server.log"; ok $? "one log line for the transaction"
is "$(grep -c 'id=' "$tmp/server.log")" 1 "... with the queue id"

out=$(smtp "print(s.sendmail('', ['postmaster@example.org'], b'Subject: bounce\r\n\r\nx\r\n'))")
is "$out" "{}" "the null sender, to postmaster through an alias"

out=$(smtp "
try:
    s.sendmail('a@remote.test', ['nobody@example.org'], b'x\r\n')
except smtplib.SMTPRecipientsRefused as e:
    print(e.recipients['nobody@example.org'][0], e.recipients['nobody@example.org'][1].decode())")
is "$out" "550 5.1.1 No such user here" "unknown local user: 550 5.1.1 at RCPT"
out=$(smtp "
try:
    s.sendmail('a@remote.test', ['x@elsewhere.test'], b'x\r\n')
except smtplib.SMTPRecipientsRefused as e:
    print(e.recipients['x@elsewhere.test'][0])")
is "$out" 554 "relaying refused"
n=$(queued)

# ---- raw conversations ----
out=$(printf 'EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<bob@example.org>\r\nRSET\r\nQUIT\r\n' | raw)
is "$(printf '%s\n' "$out" | grep -c '^452 4.5.3')" 1 "the fourth recipient: 452 4.5.3"
is "$(printf '%s\n' "$out" | tail -1)" "221 2.0.0 Bye" "a pipelined batch is answered in full"
out=$(printf 'MAIL FROM:<a@remote.test>\r\nQUIT\r\n' | raw)
printf '%s\n' "$out" | grep -q '^503 5.5.1'; ok $? "MAIL before EHLO: 503"
out=$(printf 'EHLO c\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nQUIT\r\n' | raw)
is "$(printf '%s\n' "$out" | grep -c '^503 5.5.1')" 2 "RCPT and DATA without MAIL: 503"
out=$(printf 'EHLO c\r\nMAIL FROM:<a@remote.test> SIZE=200000\r\nQUIT\r\n' | raw)
printf '%s\n' "$out" | grep -q '^552 5.3.4'; ok $? "SIZE over the limit: 552 5.3.4 at MAIL"
out=$(printf 'EHLO c\r\nMAIL FROM:<a@remote.test> FOO=bar\r\nMAIL FROM:<a@remote.test> SIZE=1\001\r\nQUIT\r\n' | raw)
is "$(printf '%s\n' "$out" | grep -c '^555 5.5.4')" 2 "unknown or control-character parameters: 555"
out=$(printf 'EHLO c\r\nMAIL FROM:a@remote.test\r\nMAIL FROM:<a b@remote.test>\r\nMAIL FROM:<"a b"@remote.test>\r\nQUIT\r\n' | raw)
is "$(printf '%s\n' "$out" | grep -c '^501')" 2 "paths must be bracketed and well-formed"
printf '%s\n' "$out" | grep -q '^250 2.1.0'; ok $? "a quoted local part is fine"
out=$(printf 'EHLO c\r\nMAIL FROM:<j\303\274rgen@remote.test>\r\nMAIL FROM:<j\303\274rgen@remote.test> SMTPUTF8\r\nQUIT\r\n' | raw)
printf '%s\n' "$out" | grep -q '^553 5.6.7'; ok $? "UTF-8 without SMTPUTF8: 553 5.6.7"
printf '%s\n' "$out" | grep -q '^250 2.1.0'; ok $? "... with SMTPUTF8: accepted"
long=$(head -c 600 /dev/zero | tr '\0' x)
out=$(printf 'EHLO c\r\nNOOP %s\r\nQUIT\r\n' "$long" | raw)
printf '%s\n' "$out" | grep -q '^500 5.5.2 Line too long'; ok $? "a command over 512 bytes: 500"
out=$(printf 'EHLO c\r\nNO\000OP\r\nQUIT\r\n' | raw)
printf '%s\n' "$out" | grep -q '^500 5.5.2'; ok $? "a NUL in a command: 500"
out=$(printf 'EHLO c\r\nVRFY bob\r\nHELP\r\nNOOP\r\nFOO\r\nQUIT\r\n' | raw)
printf '%s\n' "$out" | grep -q '^252 '; ok $? "VRFY: 252, no disclosure"
printf '%s\n' "$out" | grep -q '^214 '; ok $? "HELP: 214"
printf '%s\n' "$out" | grep -q '^500 5.5.2 Command not recognized'; ok $? "an unknown command: 500"
out=$(printf 'EHLO c\r\nA\r\nB\r\nC\r\nD\r\nE\r\nF\r\nNOOP\r\n' | raw)
printf '%s\n' "$out" | grep -q '^421 4.7.0'; ok $? "too many errors: 421"
is "$(printf '%s\n' "$out" | grep -c '^250 2.0.0 Ok$')" 0 "... and nothing after it is served"

out=$(printf 'EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<Postmaster>\r\nRCPT TO:<"q u"@example.org>\r\nRCPT TO:<bob@example.org> NOTIFY=SOMETIMES\r\nRCPT TO:<bob@example.org> ORCPT=nosemicolon\r\nQUIT\r\n' | raw)
is "$(printf '%s\n' "$out" | grep -E '^(250 2.1.5|550|555)' | cut -c1-3 | tr '\n' ' ')" "250 550 555 555 " \
	"<Postmaster> without a domain: 250; a quoted local part here: 550; bad NOTIFY or ORCPT: 555"

# DSN parameters reach the envelope
printf 'EHLO c\r\nMAIL FROM:<a@remote.test> RET=HDRS ENVID=abc+2Bdef BODY=8BITMIME\r\nRCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org\r\nDATA\r\nSubject: dsn\r\n\r\nx\r\n.\r\nQUIT\r\n' | raw >/dev/null
f=$(ls -t "$tmp/queue/msg/"* | head -1)
is "$(grep -E '^(ret|envid|body|rcpt)' "$f" | tr '\t' ' ')" "$(printf 'body 8BITMIME\nret HDRS\nenvid abc+2Bdef\nrcpt bob@example.org SUCCESS,FAILURE rfc822;bob@example.org')" "RET, ENVID, BODY, NOTIFY and ORCPT in the envelope"

# BDAT (RFC 3030)
n=$(queued)
out=$(printf 'EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.org>\r\nBDAT 19\r\nSubject: bdat\r\n\r\nhiBDAT 8 LAST\r\n there\r\nQUIT\r\n' | raw)
printf '%s\n' "$out" | grep -q '^250 2.0.0 19 octets received'; ok $? "BDAT chunk"
printf '%s\n' "$out" | grep -q '^250 2.0.0 Ok: queued as'; ok $? "BDAT LAST: queued"
f=$(ls -t "$tmp/queue/msg/"* | head -1)
is "$(body "$f")" "$(printf 'Subject: bdat\n\nhi there')" "the chunks joined, CRLF made LF"
out=$(printf 'EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.org>\r\nBDAT 9 LAST\r\nbare\nLF\r\nQUIT\r\n' | raw)
printf '%s\n' "$out" | grep -q '^554 5.6.0 .*bare LF'; ok $? "BDAT with a bare LF: 554"

# size limit at the end of DATA
big=$(head -c 120000 /dev/zero | tr '\0' y | fold -w 70 | sed 's/$/\\r\\n/' | tr -d '\n')
out=$(printf 'EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n%s.\r\nQUIT\r\n' "$big" | raw)
printf '%s\n' "$out" | grep -q '^552 5.3.4'; ok $? "a message over --max-size: 552 5.3.4 after DATA"
is "$(printf '%s\n' "$out" | tail -1)" "221 2.0.0 Bye" "... and the session goes on"

# ---- AUTH without TLS (--auth-plaintext) ----
out=$(smtp "s.login('bob@example.org', 'pw'); print(s.sendmail('bob@example.org', ['x@elsewhere.test'], b'x\r\n'))")
is "$out" "{}" "AUTH PLAIN, then relaying is allowed"
out=$(smtp "s.ehlo(); s.esmtp_features['auth'] = 'LOGIN'; s.login('bob@example.org', 'pw'); print('ok')")
is "$out" ok "AUTH LOGIN"
out=$(smtp "
try:
    s.login('bob@example.org', 'wrong')
except smtplib.SMTPAuthenticationError as e:
    print(e.smtp_code, e.smtp_error.decode())")
is "$out" "535 5.7.8 Authentication credentials invalid" "a wrong password: 535 5.7.8"
grep -q 'auth=PLAIN failed="wrong password for bob@example.org"' "$tmp/server.log"; ok $? "... logged with the reason"
# SCRAM-SHA-256 with a real client: GNU SASL's gsasl speaks SMTP itself and
# checks the server's signature ("server trusted")
echo pw | mu passwd bob@example.org
out=$(gsasl --smtp --connect "127.0.0.1:$port" --no-starttls --no-cb -m SCRAM-SHA-256 \
	-a bob@example.org -p pw -d </dev/null 2>&1)
printf '%s\n' "$out" | grep -q '^235 2.7.0'; ok $? "gsasl: AUTH SCRAM-SHA-256 over SMTP"
printf '%s\n' "$out" | grep -q 'server trusted'; ok $? "... and gsasl verified the server signature"
out=$(gsasl --smtp --connect "127.0.0.1:$port" --no-starttls --no-cb -m SCRAM-SHA-256 \
	-a bob@example.org -p wrong -d </dev/null 2>&1)
printf '%s\n' "$out" | grep -q '^535 5.7.8'; ok $? "gsasl: a wrong SCRAM password gets 535"
stop_tcpserver

# ---- relay rights ----
start_tcpserver "$MAIL_RECV" --relay-from 127.0.0.0/8
out=$(smtp "print(s.sendmail('a@example.org', ['x@elsewhere.test'], b'x\r\n'))")
is "$out" "{}" "--relay-from 127.0.0.0/8 may relay"
stop_tcpserver
start_tcpserver env RELAYCLIENT= "$MAIL_RECV"
out=$(smtp "print(s.sendmail('a@example.org', ['x@elsewhere.test'], b'x\r\n'))")
is "$out" "{}" "RELAYCLIENT in the environment may relay"
stop_tcpserver

# ---- submission ----
echo pw2 | mu add carol@example.org --password-stdin --no-scram --address c@example.org
start_tcpserver "$MAIL_RECV" --submission --auth-plaintext
out=$(smtp "
try:
    s.sendmail('carol@example.org', ['x@elsewhere.test'], b'x\r\n')
except smtplib.SMTPSenderRefused as e:
    print(e.smtp_code, e.smtp_error.decode())")
is "$out" "530 5.7.0 Authentication required" "submission: MAIL before AUTH: 530"
out=$(smtp "
s.login('carol@example.org', 'pw2')
try:
    s.sendmail('bob@example.org', ['x@elsewhere.test'], b'x\r\n')
except smtplib.SMTPSenderRefused as e:
    print(e.smtp_code)
print(s.sendmail('c@example.org', ['x@elsewhere.test'], b'x\r\n'))")
is "$out" "$(printf '553\n{}')" "submission: only the user's own addresses may send"
stop_tcpserver

# ---- timeouts ----
start_tcpserver "$MAIL_RECV" --timeout 1
out=$("$PYTHON3" -c "
import socket, time
s = socket.create_connection(('127.0.0.1', $port))
s.recv(512)
time.sleep(2.5)
print(s.recv(512).decode().strip())")
is "$out" "421 4.4.2 Timeout, closing the connection" "an idle client gets 421 after --timeout"
stop_tcpserver

# ---- --deliver ----
start_tcpserver "$MAIL_RECV" --deliver "$top_builddir/mail-store --maildir $tmp/Maildir"
out=$(smtp "print(s.sendmail('a@remote.test', ['bob@example.org'], b'Subject: direct\r\n\r\nx\r\n'))")
is "$out" "{}" "--deliver mail-store: delivered"
is "$(ls "$tmp/Maildir/new" | wc -l | tr -d ' ')" 1 "... into the Maildir"
grep -q '^Received: from' "$tmp/Maildir/new/"*; ok $? "... with the Received: header"
grep -q '^Return-Path: <a@remote.test>' "$tmp/Maildir/new/"*; ok $? "... and the envelope from SENDER"
out=$(smtp "
try:
    s.sendmail('a@remote.test', ['bob@example.org', 'postmaster@example.org'], b'x\r\n')
except smtplib.SMTPRecipientsRefused as e:
    print('refused')
else:
    print('one accepted')")
is "$out" "one accepted" "--deliver: one recipient per transaction, the next gets 452"
stop_tcpserver
cat >"$tmp/chatty.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
echo "250 2.0.0 forged reply from the program"
exit 0
EOF
chmod +x "$tmp/chatty.sh"
cat >"$tmp/leaves.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
sleep 30 &
exit 0
EOF
chmod +x "$tmp/leaves.sh"
start_tcpserver "$MAIL_RECV" --deliver "$tmp/leaves.sh"
start=$(date +%s)
out=$(printf 'EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' | raw)
printf '%s\n' "$out" | grep -q '^250 2.0.0 Ok: delivered'; ok $? "--deliver: a program that leaves a child behind"
[ $(( $(date +%s) - start )) -lt 10 ]; ok $? "... does not hold the session"
check "... and the child is gone" sh -c "! pgrep -f '^sleep 30\$' >/dev/null"
stop_tcpserver
start_tcpserver "$MAIL_RECV" --deliver "$tmp/chatty.sh"
out=$(printf 'EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' | raw)
is "$(printf '%s\n' "$out" | grep -c forged)" 0 "--deliver: the program's stdout never reaches the client"
stop_tcpserver
cat >"$tmp/fail.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
echo "the reason is $RECIPIENT" >&2
exit "$1"
EOF
chmod +x "$tmp/fail.sh"
start_tcpserver "$MAIL_RECV" --deliver "$tmp/fail.sh 67"
out=$(smtp "
try:
    s.sendmail('a@remote.test', ['bob@example.org'], b'x\r\n')
except smtplib.SMTPDataError as e:
    print(e.smtp_code, e.smtp_error.decode())")
is "$out" "550 5.0.0 the reason is bob@example.org" "--deliver exit 67: 550 with the program's reason"
stop_tcpserver
start_tcpserver "$MAIL_RECV" --deliver "$tmp/fail.sh 75"
out=$(smtp "
try:
    s.sendmail('a@remote.test', ['bob@example.org'], b'x\r\n')
except smtplib.SMTPDataError as e:
    print(e.smtp_code)")
is "$out" 451 "--deliver exit 75: 451"
stop_tcpserver

check "nothing left in the queue's tmp/" sh -c "[ -z \"\$(ls '$tmp/queue/tmp')\" ]"

# configuration mistakes are refused at start, with one line
expect_exit 64 "a malformed --relay-from" "$MAIL_RECV" --relay-from 300.1.2.3/8 </dev/null
expect_exit 64 "--session-timeout 0" "$MAIL_RECV" --session-timeout 0 </dev/null
expect_exit 64 "a relative --queue" "$MAIL_RECV" --queue relative/dir </dev/null
{ cat "$tmp/mail.conf"; echo "queue_dir = relative/dir"; } >"$tmp/relq.conf"
expect_exit 78 "a relative queue_dir in mail.conf" "$MAIL_RECV" --config "$tmp/relq.conf" </dev/null

# the durability contract, on an strace log of a real session: the reply
# "queued" comes after the fsync of the file and of msg/
if command -v strace >/dev/null 2>&1; then
	printf 'EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: durable\r\n\r\nx\r\n.\r\nQUIT\r\n' >"$tmp/session"
	strace -f -o "$tmp/trace" -e trace=openat,write,fsync,link,rename,mkdir,close,exit_group \
		"$MAIL_RECV" <"$tmp/session" >/dev/null 2>&1
	"$PYTHON3" "$top_srcdir/tests/syscheck.py" queue "$tmp/trace" >"$tmp/why"
	ok $? "the reply 'queued' comes after the file and msg/ are fsync'd"
	sed 's/^/#   /' "$tmp/why"
fi

done_testing
