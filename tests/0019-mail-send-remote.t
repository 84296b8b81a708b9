#!/bin/sh
# The queue runner delivering to other servers through libcurl, routed to
# loopback peers (tests have no DNS): Postfix's smtp-sink, a second
# toolkit (mail-recv under tcpserver, plain, STARTTLS, and as a
# submission smarthost with AUTH), and a scripted peer (tests/smtppeer.py)
# that refuses one recipient, defers, or drops the connection mid-DATA.
. "${top_srcdir:-.}/tests/lib.sh"

MAIL_SEND=$top_builddir/mail-send
MAIL_RECV=$top_builddir/mail-recv
use_mail_conf "example.org"
cat >>"$tmp/mail.conf" <<EOF
queue_dir = $tmp/queue
hostname = mx.example.org
EOF
mu add bob@example.org </dev/null >/dev/null
ms() { "$MAIL_SEND" "$@"; }
run() { "$MAIL_SEND" --run "$@" 2>>"$tmp/runner.log"; }
report() {
	"$PYTHON3" - "$1" <<'PY'
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
ds = [p for p in m.iter_parts() if p.get_content_type() == "message/delivery-status"][0]
for b in ds.get_payload()[1:]:
    print(b["Final-Recipient"], b["Action"], b["Status"], b["Remote-MTA"], b["Diagnostic-Code"])
PY
}

# peer DIR RULE...: start tests/smtppeer.py; sets $pport
peer() {
	_dir=$1
	shift
	mkdir -p "$_dir"
	rm -f "$_dir/port"
	"$PYTHON3" "$top_srcdir/tests/smtppeer.py" "$_dir/port" "$_dir" "$@" &
	servers="$servers $!"
	for _i in $(seq 1 100); do [ -f "$_dir/port" ] && break; sleep 0.05; done
	pport=$(cat "$_dir/port")
}

# ---- a scripted peer: the bytes on the wire ----
peer "$tmp/p1"
printf 'Subject: wire\n\n.leading dot\n..two dots\nbare\rCR\nlast line' |
	ms -f bob@example.org -i x@remote.test y@remote.test
f=$(newest)
run --route "remote.test=127.0.0.1:$pport"
ok $? "--run with a route exits 0"
is "$(queued)" 0 "the message went to the peer"
is "$(cat "$tmp/p1/env.1" | tr '\n' '|')" \
	"MAIL FROM <bob@example.org>|RCPT TO x@remote.test|RCPT TO y@remote.test|" \
	"... one transaction for both recipients of the domain"
grep -q 'EHLO mx.example.org' "$tmp/p1/log"; ok $? "... EHLO with our hostname"
"$PYTHON3" - "$tmp/p1/msg.1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
assert data.endswith(b"\r\n"), "no CR LF at the end"
stripped = data.replace(b"\r\n", b"")
assert b"\r" not in stripped and b"\n" not in stripped, "a bare CR or LF went out"
body = data.split(b"\r\n\r\n", 1)[1]
assert body == b".leading dot\r\n..two dots\r\nbare\r\nCR\r\nlast line\r\n", repr(body)
PY
ok $? "... only CR LF line ends, a bare CR made a line end, the dots arrived as written"
grep -q "to=<x@remote.test> status=delivered reason=\"2.0.0 127.0.0.1\[127.0.0.1\] said: 250 2.0.0 Ok: queued (in reply to end of DATA)\"" "$tmp/runner.log"
ok $? "... the log has the peer's reply"

# ---- Postfix's smtp-sink ----
if command -v smtp-sink >/dev/null; then
	sport=$("$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir "$tmp/sink"
	smtp-sink -u "$(id -un)" -d "$tmp/sink/%M." "127.0.0.1:$sport" 10 &
	servers="$servers $!"
	sleep 0.3
	printf 'Subject: to the sink\n\nhello sink\n' | ms -f bob@example.org a@sink.test b@sink.test c@sink.test
	run --route "sink.test=127.0.0.1:$sport"
	is "$(queued)" 0 "smtp-sink takes a message for three recipients"
	is "$(grep -c 'to=<[abc]@sink.test> status=delivered' "$tmp/runner.log")" 3 "... each delivered"
	grep -rqx 'hello sink' "$tmp/sink"; ok $? "... the sink has the body"
else
	ok 1 "smtp-sink missing (Debian's postfix package; scripts/deps installs it)"
fi

# ---- one of three refused: one notice, two delivered ----
peer "$tmp/p2" "rcpt:b@remote.test=550 5.1.1 <b@remote.test>: no such user"
b=$(inbox bob)
printf 'Subject: three\n\nx\n' | ms -f bob@example.org a@remote.test b@remote.test c@remote.test
run --route "remote.test=127.0.0.1:$pport"
is "$(cat "$tmp/p2/env.1" | tr '\n' '|')" \
	"MAIL FROM <bob@example.org>|RCPT TO a@remote.test|RCPT TO c@remote.test|" \
	"550 for one of three: the other two are delivered"
is "$(inbox bob)" $((b + 1)) "... one notice to the sender"
is "$(report "$(latest_mail bob)")" \
	"rfc822; b@remote.test failed 5.1.1 dns; 127.0.0.1 smtp; 550 5.1.1 <b@remote.test>: no such user (in reply to RCPT TO)" \
	"... for b only, with the peer's reply"
is "$(queued)" 0 "... and the message is finished"

# ---- 451: deferred with the reply, retried ----
peer "$tmp/p3" "rcpt:a@remote.test=451 4.3.0 try again later"
printf 'Subject: later\n\nx\n' | ms -f bob@example.org a@remote.test
id=$(basename "$(newest)")
run --route "remote.test=127.0.0.1:$pport"
is "$(queued)" 1 "451 at RCPT: the message stays queued"
grep -q "^deferred	0	\*	.*451 4.3.0 try again later (in reply to RCPT TO)" "$tmp/queue/state/$id"
ok $? "... deferred, with the peer's reply in its state"
peer "$tmp/p3b"
run --flush --route "remote.test=127.0.0.1:$pport"
is "$(queued)" 0 "... and delivered when the peer takes it"
[ -f "$tmp/p3b/msg.1" ]; ok $? "... to the peer"

peer "$tmp/p4" "data=452 4.3.1 insufficient storage"
printf 'Subject: full\n\nx\n' | ms -f bob@example.org a@remote.test
id=$(basename "$(newest)")
run --route "remote.test=127.0.0.1:$pport"
grep -q "^deferred	0	\*	.*452 4.3.1 insufficient storage (in reply to end of DATA)" "$tmp/queue/state/$id"
ok $? "452 after the data: deferred"

# ---- the connection drops mid-DATA: nothing lost ----
peer "$tmp/p5" drop-in-data
printf 'Subject: dropped\n\n%s\n' "$(seq 1 500 | tr '\n' ' ')" | ms -f bob@example.org d@drop.test
id=$(basename "$(newest)")
run --route "drop.test=127.0.0.1:$pport"
is "$(queued)" 2 "a peer that drops the connection mid-DATA: the message stays queued"
tail -1 "$tmp/queue/state/$id" | grep -q "^deferred	0	\*	"; ok $? "... deferred"
peer "$tmp/p5b"
run --flush --route "drop.test=127.0.0.1:$pport" --route "remote.test=127.0.0.1:$pport"
is "$(queued)" 0 "... delivered whole on the retry"
grep -q ' 499 500 ' "$tmp"/p5b/msg.*; ok $? "... all of it"

# ---- a runner killed in the middle of a transaction ----
peer "$tmp/p6" slow-data=3
printf 'Subject: killed\n\nx\n' | ms -f bob@example.org k@slow.test
"$MAIL_SEND" --run --route "slow.test=127.0.0.1:$pport" 2>/dev/null & runner=$!
for i in $(seq 1 100); do grep -q '^DATA' "$tmp/p6/log" 2>/dev/null && break; sleep 0.05; done
sleep 0.2
kill -9 $runner
wait $runner 2>/dev/null
is "$(queued)" 1 "kill -9 of the runner during a transaction: the message is still queued"
peer "$tmp/p6b"
run --route "slow.test=127.0.0.1:$pport"
is "$(queued)" 0 "... and the next run delivers it"

# ---- --jobs: the domains of one message at once ----
peer "$tmp/pa" slow-data=2
pa=$pport
peer "$tmp/pb" slow-data=2
pb=$pport
peer "$tmp/pc" slow-data=2
pc=$pport
printf 'Subject: three domains\n\nx\n' | ms -f bob@example.org x@a.test y@b.test z@c.test
run --jobs 3 --route "a.test=127.0.0.1:$pa" --route "b.test=127.0.0.1:$pb" --route "c.test=127.0.0.1:$pc"
is "$(queued)" 0 "--jobs 3: a message for three domains is delivered"
is "$(cat "$tmp/pa/env.1" "$tmp/pb/env.1" "$tmp/pc/env.1" | grep -c '^RCPT TO')" 3 "... one transaction to each"
"$PYTHON3" - "$tmp/pa/log" "$tmp/pb/log" "$tmp/pc/log" <<'PYEOF'
import sys
starts = [float(l.split()[1]) for f in sys.argv[1:] for l in open(f) if l.startswith("CONNECT")]
# each peer holds its DATA for 2 s: all three began before the first could end
sys.exit(0 if len(starts) == 3 and max(starts) - min(starts) < 1.5 else 1)
PYEOF
ok $? "... at the same time, not one after the other"

# ---- a null sender's failure is not answered ----
peer "$tmp/p7" "rcpt:z@remote.test=550 5.1.1 no"
b=$(inbox bob)
printf 'Subject: bounce of a bounce\n\nx\n' | ms -f '<>' z@remote.test
run --route "remote.test=127.0.0.1:$pport"
is "$(queued)/$(inbox bob)" "0/$b" "a null-sender message refused remotely is dropped, no notice"

# ---- another toolkit: mail-recv under tcpserver, with STARTTLS ----
mkdir -p "$tmp/peer"
cat >"$tmp/peer/mail.conf" <<EOF
users_file = $tmp/peer/users
aliases_file = $tmp/peer/aliases
local_domains = remote.test
queue_dir = $tmp/peer/queue
auth_failure_delay = 0
EOF
MAIL_CONF=$tmp/peer/mail.conf mu add x@remote.test </dev/null >/dev/null
echo pw | MAIL_CONF=$tmp/peer/mail.conf mu add sub@remote.test --password-stdin >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-subj /CN=localhost -days 2 2>/dev/null \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:mta-sts.sts.test,DNS:mta-sts.sts2.test,DNS:mta-sts.sts3.test,DNS:mta-sts.sts4.test,DNS:mta-sts.sts5.test"
ok $? "a self-signed certificate for 127.0.0.1"
peerq() { ls "$tmp/peer/queue/msg" 2>/dev/null | wc -l | tr -d ' '; }
peer_newest() { ls -t "$tmp/peer/queue/msg/"* | head -1; }
MAIL_CONF=$tmp/peer/mail.conf start_tcpserver "$MAIL_RECV" --hostname mx.remote.test \
	--cert "$tmp/cert.pem" --key "$tmp/key.pem"
b=$(inbox bob)
printf 'Subject: tls\n\nover tls\n' | ms -f bob@example.org x@remote.test nobody@remote.test
run --route "remote.test=127.0.0.1:$port"
is "$(peerq)" 1 "mail-recv as the peer queues the message"
grep -q '^rcpt	x@remote.test' "$(peer_newest)"; ok $? "... for the one recipient it knows"
grep -q 'with ESMTPS' "$(peer_newest)"; ok $? "... received over STARTTLS (opportunistic, self-signed)"
is "$(report "$(latest_mail bob)" | cut -d' ' -f1-4)" "rfc822; nobody@remote.test failed 5.1.1" \
	"... and the unknown one bounces with the peer's 5.1.1"

set_conf smtp_tls verify
printf 'Subject: verify\n\nx\n' | ms -f bob@example.org x@remote.test
id=$(basename "$(newest)")
run --route "remote.test=127.0.0.1:$port"
is "$(queued)" 1 "smtp_tls = verify: a certificate no CA vouches for defers the message"
tail -1 "$tmp/queue/state/$id" | grep -q '^deferred.*4.4.1'; ok $? "... 4.4.1, with the TLS error"
set_conf tls_ca_file "$tmp/cert.pem"
n=$(peerq)
run --flush --route "remote.test=127.0.0.1:$port"
is "$(queued)/$(peerq)" "0/$((n + 1))" "... delivered once tls_ca_file trusts it"
set_conf smtp_tls ""
set_conf tls_ca_file ""

# ---- a smarthost: mail-recv --submission, AUTH from a 0600 file ----
stop_tcpserver
MAIL_CONF=$tmp/peer/mail.conf start_tcpserver "$MAIL_RECV" --submission --hostname smtp.remote.test \
	--cert "$tmp/cert.pem" --key "$tmp/key.pem"
set_conf relayhost "smtp://127.0.0.1:$port"
set_conf relay_auth_file "$tmp/relay.auth"
echo "sub@remote.test:pw" >"$tmp/relay.auth"
chmod 644 "$tmp/relay.auth"
printf 'Subject: smarthost\n\nvia the smarthost\n' | ms -f sub@remote.test anyone@far.test
id=$(basename "$(newest)")
run
is "$(queued)" 1 "relay_auth_file readable by others: not used, the message waits"
tail -1 "$tmp/queue/state/$id" | grep -q 'readable by others'; ok $? "... and the state says why"
chmod 600 "$tmp/relay.auth"
n=$(peerq)
run --flush
is "$(queued)/$(peerq)" "0/$((n + 1))" "with a 0600 file: relayed through the smarthost after AUTH"
grep -q '^rcpt	anyone@far.test' "$(peer_newest)"; ok $? "... for the remote recipient"
grep -q 'sub@remote.test' "$(peer_newest)"; ok $? "... the Received: field names the authenticated user"
echo "sub@remote.test:wrong" >"$tmp/relay.auth"
printf 'Subject: smarthost\n\nbad password\n' | ms -f sub@remote.test anyone@far.test
id=$(basename "$(newest)")
run
is "$(queued)" 1 "a wrong smarthost password defers the message"
"$MAIL_SEND" --delete "$id" >/dev/null
echo "sub@remote.test:pw" >"$tmp/relay.auth"
MAIL_CONF=$tmp/peer/mail.conf start_tcpserver "$MAIL_RECV" --submission --tls --hostname smtps.remote.test \
	--cert "$tmp/cert.pem" --key "$tmp/key.pem"
set_conf relayhost "smtps://127.0.0.1:$port"
n=$(peerq)
printf 'Subject: smtps\n\nvia implicit TLS\n' | ms -f sub@remote.test anyone@far.test
run
is "$(queued)/$(peerq)" "0/$((n + 1))" "relayhost smtps://: implicit TLS (port 465 style), AUTH, relayed"
set_conf relayhost ""
set_conf relay_auth_file ""

# ---- MTA-STS (RFC 8461): policies over HTTPS, enforced ----
# routes stand in for DNS: "mta-sts.DOMAIN=HOST:PORT" for the policy host
stop_tcpserver
for d in sts sts2 sts3 sts4 sts5; do
	printf '@%s.test: x@remote.test\n' $d >>"$tmp/peer/aliases"
done
sed -i 's/^local_domains = .*/local_domains = remote.test, sts.test, sts2.test, sts3.test, sts4.test, sts5.test/' \
	"$tmp/peer/mail.conf"
MAIL_CONF=$tmp/peer/mail.conf start_tcpserver "$MAIL_RECV" --hostname mx.remote.test \
	--cert "$tmp/cert.pem" --key "$tmp/key.pem"
tls_port=$port
MAIL_CONF=$tmp/peer/mail.conf start_tcpserver "$MAIL_RECV" --hostname plain.remote.test
plain_port=$port
mkdir "$tmp/www"
rm -f "$tmp/www/port"
"$PYTHON3" "$top_srcdir/tests/httpsd.py" "$tmp/www/port" "$tmp/www" "$tmp/cert.pem" "$tmp/key.pem" &
servers="$servers $!"
for i in $(seq 1 100); do [ -f "$tmp/www/port" ] && break; sleep 0.05; done
hport=$(cat "$tmp/www/port")
policy() { printf 'version: STSv1\r\nmode: %s\r\nmx: %s\r\nmax_age: 86400\r\n' "$2" "$3" >"$tmp/www/mta-sts.$1.txt"; }
policy sts.test enforce localhost
policy sts2.test enforce mx.other.test
policy sts3.test enforce localhost
policy sts4.test testing '*.other.test'
policy sts5.test enforce localhost
echo "https://mta-sts.sts.test/.well-known/mta-sts.txt" >"$tmp/www/mta-sts.sts5.test.redirect"
set_conf tls_ca_file "$tmp/cert.pem"
routes="--route sts.test=localhost:$tls_port --route sts2.test=localhost:$tls_port
	--route sts3.test=localhost:$plain_port --route sts4.test=localhost:$plain_port
	--route sts5.test=localhost:$plain_port"
for d in sts sts2 sts3 sts4 sts5; do routes="$routes --route mta-sts.$d.test=127.0.0.1:$hport"; done

n=$(peerq)
printf 'Subject: sts\n\nx\n' | ms -f bob@example.org a@sts.test
run $routes
is "$(queued)/$(peerq)" "0/$((n + 1))" "MTA-STS enforce, MX in the policy, valid TLS: delivered"
grep -q 'with ESMTPS' "$(peer_newest)"; ok $? "... over TLS"
grep -q "^version: STSv1" "$tmp/queue/mta-sts/sts.test"; ok $? "... the policy is cached in the queue"
is "$(grep -c '^mta-sts.sts.test /.well-known/mta-sts.txt$' "$tmp/www/log")" 1 "... fetched once over HTTPS"
printf 'Subject: sts again\n\nx\n' | ms -f bob@example.org a@sts.test
run $routes
is "$(queued)/$(grep -c '^mta-sts.sts.test ' "$tmp/www/log")" "0/1" "... the next message uses the cached policy"

printf 'Subject: sts2\n\nx\n' | ms -f bob@example.org a@sts2.test
id=$(basename "$(newest)")
run $routes
is "$(queued)" 1 "enforce, and the MX host is not in the policy: deferred"
tail -1 "$tmp/queue/state/$id" | grep -q 'MTA-STS policy of sts2.test: localhost is not one of its MX hosts'
ok $? "... saying why"
"$MAIL_SEND" --delete "$id" >/dev/null

printf 'Subject: sts3\n\nx\n' | ms -f bob@example.org a@sts3.test
id3=$(basename "$(newest)")
run $routes
is "$(queued)" 1 "enforce, and the MX host has no STARTTLS: deferred, never sent in clear"
n=$(peerq)
printf 'Subject: sts4\n\nx\n' | ms -f bob@example.org a@sts4.test
run $routes
is "$(queued)/$(peerq)" "1/$((n + 1))" "mode testing, MX not in the policy: delivered anyway"
grep -q 'mta-sts=testing domain=sts4.test host=localhost not in the policy' "$tmp/runner.log"
ok $? "... and logged"
n=$(peerq)
printf 'Subject: sts5\n\nx\n' | ms -f bob@example.org a@sts5.test
run $routes
is "$(queued)/$(peerq)" "1/$((n + 1))" "a policy URL that redirects is not followed: no policy, delivered"
grep -q 'mta-sts domain=sts5.test error=' "$tmp/runner.log"; ok $? "... and the failed fetch is logged"
set_conf mta_sts no
run --flush $routes
is "$(queued)" 0 "mta_sts = no: the policy is not used"
set_conf mta_sts ""
set_conf tls_ca_file ""

done_testing
