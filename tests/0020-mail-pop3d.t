#!/bin/sh
# mail-pop3d under tcpserver, driven by real clients: Python's poplib
# (USER/PASS, STLS, implicit TLS, TOP, UIDL, RETR byte for byte against the
# stored file), gsasl (AUTH PLAIN and SCRAM-SHA-256), curl (pop3://,
# pop3s://), gnutls-cli (STLS), fetchmail and getmail6 (keep and delete);
# Maildir and mbox; STLS injection, two sessions, a dropped connection, a
# 100 MB message in bounded memory, and the error paths.
. "${top_srcdir:-.}/tests/lib.sh"

MAIL_POP3D=$top_builddir/mail-pop3d
use_mail_conf "example.org"
echo pw | mu add bob@example.org --password-stdin >/dev/null
echo pw3 | mu add carol@example.org --password-stdin --mbox "$tmp/carol.mbox" >/dev/null
echo pw4 | mu add dave@example.org --password-stdin >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-subj /CN=localhost -days 2 2>/dev/null
ok $? "a self-signed certificate"
TLS="--cert $tmp/cert.pem --key $tmp/key.pem"
bobdir=$tmp/vmail/example.org/bob/Maildir
store() { "$MAIL_STORE" -f alice@remote.test "$@"; }
printf 'Subject: one\n\nfirst message\n.leading dot\n..two dots\n.\nend\n' | store --maildir "$bobdir"
printf 'Subject: two\nX-Long: %s\n\nline 1\nline 2\nline 3\nline 4\n' "$(printf '%0500d' 0)" |
	store --maildir "$bobdir"
printf 'Subject: three\n\nno newline at the end' | store --maildir "$bobdir"
is "$(ls "$bobdir/new" | wc -l | tr -d ' ')" 3 "three messages delivered by mail-store"
PY=$(python_with poplib ssl) || PY=$PYTHON3

# pop SCRIPT: Python with poplib, connected as p (plaintext allowed port)
pop() {
	"$PY" - "$port" "$bobdir" <<PYEOF
import os, poplib, socket, ssl, sys
port, maildir = int(sys.argv[1]), sys.argv[2]
def stored():
    """The Maildir's messages as POP3 must send them: CR LF, by name."""
    out = {}
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(maildir, sub)):
            data = open(os.path.join(maildir, sub, name), "rb").read()
            if not data.endswith(b"\n"):
                data += b"\n"
            out[name.split(":")[0]] = data.replace(b"\n", b"\r\n")
    return out
$1
PYEOF
}

start_tcpserver "$MAIL_POP3D" --allow-plaintext $TLS
out=$(pop '
p = poplib.POP3("127.0.0.1", port, timeout=10)
print(p.getwelcome().decode())
caps = p.capa()
print(" ".join(sorted(caps)))
p.user("bob@example.org")
print(p.pass_("pw").decode())
count, size = p.stat()
print(count, size)
want = stored()
listing = {int(l.split()[0]): int(l.split()[1]) for l in p.list()[1]}
uidls = {int(l.split()[0]): l.split()[1].decode() for l in p.uidl()[1]}
exact = True
for i in range(1, count + 1):
    resp, lines, octets = p.retr(i)
    body = b"".join(l + b"\r\n" for l in lines)
    exact &= body == want[uidls[i]] and octets - 0 >= 0 and len(body) == listing[i]
print("exact" if exact else "different")
print(sum(listing.values()) == size)
resp, lines, _ = p.top(2, 2)
print(lines[-1].decode(), len(lines))
print(p.quit().decode())
')
is "$(echo "$out" | sed -n 1p)" "+OK mail-toolkit POP3 ready" "poplib: the greeting"
is "$(echo "$out" | sed -n 2p)" "AUTH-RESP-CODE IMPLEMENTATION PIPELINING RESP-CODES SASL STLS TOP UIDL USER" \
	"... CAPA lists TOP, UIDL, RESP-CODES, AUTH-RESP-CODE, PIPELINING, USER, SASL, STLS"
is "$(echo "$out" | sed -n 3p)" "+OK Logged in, 3 messages ($(echo "$out" | sed -n 4p | cut -d' ' -f2) octets)" \
	"... USER/PASS logs in"
is "$(echo "$out" | sed -n 4p | cut -d' ' -f1)" 3 "... STAT: 3 messages"
is "$(echo "$out" | sed -n 5p)" exact "... RETR: every message byte for byte as stored, with CR LF, dots unstuffed by poplib, LIST sizes exact"
is "$(echo "$out" | sed -n 6p)" True "... STAT's total is the sum of LIST"
is "$(echo "$out" | sed -n 7p)" "line 2 6" "... TOP 2 2: the header, the empty line and two body lines"
is "$(echo "$out" | sed -n 8p)" "+OK Logging out, messages deleted" "... QUIT"
is "$(ls "$bobdir/new" | wc -l | tr -d ' ')/$(ls "$bobdir/cur" | wc -l | tr -d ' ')" "0/3" \
	"after QUIT the messages moved from new/ to cur/"
grep -q 'login tls=no messages=3' "$tmp/server.log"; ok $? "the log has the login"

# the UIDLs stay when a message moves to cur/, and across sessions
out=$(pop '
p = poplib.POP3("127.0.0.1", port, timeout=10)
p.user("bob@example.org"); p.pass_("pw")
print(" ".join(sorted(l.split()[1].decode() for l in p.uidl()[1])))
p.quit()
')
is "$out" "$(ls "$bobdir/cur" | sed 's/:.*//' | sort | tr '\n' ' ' | sed 's/ $//')" \
	"UIDL: the Maildir base names, stable across sessions and the move to cur/"

# a message another program removes during the session: -ERR, not a hang-up
printf 'Subject: doomed\n\ndoomed\n' | store --maildir "$bobdir"
out=$(pop '
p = poplib.POP3("127.0.0.1", port, timeout=10)
p.user("bob@example.org"); p.pass_("pw")
n = p.stat()[0]
for sub in ("new", "cur"):
    for name in os.listdir(os.path.join(maildir, sub)):
        if b"doomed" in open(os.path.join(maildir, sub, name), "rb").read():
            os.remove(os.path.join(maildir, sub, name))
try:
    p.retr(n)
    print("sent")
except poplib.error_proto as e:
    print(e.args[0].decode())
print(p.noop().decode())
p.quit()
')
is "$(echo "$out" | tr '\n' '|')" "-ERR [SYS/TEMP] The message was removed by another program|+OK|" \
	"RETR of a message another program removed: -ERR, and the session goes on"

# DELE of a message another program moved from new/ to cur/ meanwhile
printf 'Subject: moved\n\nmoved\n' | store --maildir "$bobdir"
out=$(pop '
p = poplib.POP3("127.0.0.1", port, timeout=10)
p.user("bob@example.org"); p.pass_("pw")
n = p.stat()[0]
for name in os.listdir(os.path.join(maildir, "new")):
    os.rename(os.path.join(maildir, "new", name), os.path.join(maildir, "cur", name + ":2,S"))
print(p.dele(n).decode())
p.quit()
')
grep -l '^Subject: moved' "$bobdir"/cur/* "$bobdir"/new/* 2>/dev/null | grep -q .
[ $? -ne 0 ]; ok $? "DELE of a message an IMAP client moved to cur/ meanwhile removes it"

# the raw protocol: DELE, RSET, errors
raw() { "$PYTHON3" "$top_srcdir/tests/smtpraw.py" "$port"; }
out=$(printf 'USER bob@example.org\r\nPASS pw\r\nDELE 1\r\nDELE 1\r\nRETR 1\r\nLIST 1\r\nSTAT\r\nRSET\r\nSTAT\r\nRETR 9\r\nRETR 0\r\nRETR x\r\nTOP 2\r\nFROB\r\nLIST 2 extra\r\nQUIT\r\n' | raw)
printf '%s\n' "$out" | sed -n 4p | grep -q '^+OK Marked'; ok $? "DELE 1"
is "$(printf '%s\n' "$out" | sed -n 5,7p | cut -c1-4 | tr '\n' ' ')" "-ERR -ERR -ERR " \
	"... then DELE 1, RETR 1 and LIST 1 again are refused"
is "$(printf '%s\n' "$out" | sed -n 8p)" "+OK 2 $(printf '%s\n' "$out" | sed -n 8p | cut -d' ' -f3)" \
	"... STAT counts 2"
is "$(printf '%s\n' "$out" | sed -n 10p | cut -d' ' -f2)" 3 "RSET: 3 again"
is "$(printf '%s\n' "$out" | sed -n 11,16p | cut -c1-4 | tr '\n' ' ')" "-ERR -ERR -ERR -ERR -ERR -ERR " \
	"RETR 9, RETR 0, RETR x, TOP without n, an unknown command, LIST with junk: -ERR"
is "$(ls "$bobdir/cur" | wc -l | tr -d ' ')" 3 "RSET then QUIT deletes nothing"

out=$(printf 'NO\rOP\r\nQUIT\r\n' | raw)
printf '%s\n' "$out" | sed -n 2p | grep -q '^-ERR Bare CR'; ok $? "a bare CR in a command: -ERR"
long=$("$PYTHON3" -c 'print("NOOP " + "x" * 300)')
out=$(printf '%s\r\nQUIT\r\n' "$long" | raw)
printf '%s\n' "$out" | sed -n 2p | grep -q '^-ERR Line too long'; ok $? "a 305-octet command line: -ERR"
printf '%s\n' "$out" | sed -n 3p | grep -q '^+OK'; ok $? "... and the session goes on"
out=$(for i in $(seq 1 25); do printf 'FROB\r\n'; done | raw)
printf '%s\n' "$out" | grep -q 'Too many errors'; ok $? "20 refused commands: the server hangs up"
out=$(printf 'USER bob@example.org\r\nPASS wrong\r\nQUIT\r\n' | raw)
printf '%s\n' "$out" | sed -n 3p | grep -q '^-ERR \[AUTH\] Authentication failed'; ok $? "a wrong password: -ERR [AUTH]"
out=$(printf 'PASS pw\r\nAPOP bob x\r\nQUIT\r\n' | raw)
is "$(printf '%s\n' "$out" | sed -n 2,3p | cut -c1-4 | tr '\n' ' ')" "-ERR -ERR " "PASS before USER, and APOP: -ERR"

# pipelined commands in one write get their replies in order
out=$(printf 'USER bob@example.org\r\nPASS pw\r\nSTAT\r\nUIDL 1\r\nLIST 2\r\nNOOP\r\nQUIT\r\n' | raw)
is "$(printf '%s\n' "$out" | cut -c1-3 | tr '\n' ' ')" "+OK +OK +OK +OK +OK +OK +OK +OK " \
	"PIPELINING: seven commands in one packet, seven replies"

# two sessions: the second is told the mailbox is in use
out=$("$PY" - "$port" <<'PYEOF'
import poplib, sys
port = int(sys.argv[1])
a = poplib.POP3("127.0.0.1", port, timeout=10)
a.user("bob@example.org"); a.pass_("pw")
b = poplib.POP3("127.0.0.1", port, timeout=10)
b.user("bob@example.org")
try:
    b.pass_("pw")
    print("both")
except poplib.error_proto as e:
    print(e.args[0].decode())
a.quit()
try:
    b.user("bob@example.org")
    print("still open")
except (poplib.error_proto, OSError):
    print("closed")
c = poplib.POP3("127.0.0.1", port, timeout=10)
c.user("bob@example.org")
print(c.pass_("pw").decode().split(",")[0])
c.quit()
PYEOF
)
is "$(echo "$out" | sed -n 1p)" "-ERR [IN-USE] The mailbox is in use by another session" \
	"a second session for the same mailbox: -ERR [IN-USE]"
is "$(echo "$out" | sed -n 2p)" "closed" "... and the server hangs up (the rights it took are that mailbox's)"
is "$(echo "$out" | sed -n 3p)" "+OK Logged in" "... a new session gets in once the first has quit"

# a dropped connection deletes nothing
printf 'Subject: four\n\nfour\n' | store --maildir "$bobdir"
printf 'USER bob@example.org\r\nPASS pw\r\nDELE 1\r\nDELE 2\r\n' | raw >/dev/null
is "$(ls "$bobdir/cur" | wc -l | tr -d ' ')/$(ls "$bobdir/new" | wc -l | tr -d ' ')" "3/1" \
	"DELE then a dropped connection: nothing deleted, new/ left as it was"
grep -q 'closed="without QUIT: nothing deleted"' "$tmp/server.log"; ok $? "... and the log says so"

# DELE and QUIT remove the files
printf 'USER bob@example.org\r\nPASS pw\r\nDELE 1\r\nDELE 4\r\nQUIT\r\n' | raw >/dev/null
is "$(ls "$bobdir/cur" "$bobdir/new" | grep -c ',S=')" 2 "DELE 1, DELE 4, QUIT: two messages left"
mailcheck maildir "$bobdir" >/dev/null 2>&1; ok $? "... and Python's mailbox reads the Maildir"

stop_tcpserver
start_tcpserver "$MAIL_POP3D" --allow-plaintext --timeout 1
out=$("$PYTHON3" - "$port" <<'PYEOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
s.settimeout(10)
f = s.makefile("rb")
f.readline()
print(f.readline().decode().strip())
print("closed" if f.readline() == b"" else "open")
PYEOF
)
is "$(echo "$out" | tr '\n' '|')" "-ERR Timeout, closing the connection|closed|" "--timeout 1: an idle client is told, then the connection closes"
stop_tcpserver
start_tcpserver "$MAIL_POP3D" --allow-plaintext $TLS

# delivery order, though the microseconds in names are not zero-padded
echo pw6 | mu add frank@example.org --password-stdin >/dev/null
fdir=$tmp/vmail/example.org/frank/Maildir
mkdir -p "$fdir/new" "$fdir/cur" "$fdir/tmp"
printf 'Subject: later\n\nx\n' >"$fdir/new/1700000000.M100000P1Q2.host,S=20,W=23"
printf 'Subject: earlier\n\nx\n' >"$fdir/new/1700000000.M99999P1Q1.host,S=22,W=25"
printf 'Subject: earliest\n\nx\n' >"$fdir/new/999999999.M1P1Q1.host,S=23,W=26"
out=$(printf 'USER frank@example.org\r\nPASS pw6\r\nTOP 1 0\r\nTOP 2 0\r\nTOP 3 0\r\nQUIT\r\n' | raw)
is "$(printf '%s\n' "$out" | grep '^Subject:' | tr '\n' ' ')" "Subject: earliest Subject: earlier Subject: later " \
	"messages are numbered oldest first, by the time in their names as numbers"

# ---- SASL with gsasl ----
if command -v gsasl >/dev/null; then
	out=$("$PYTHON3" "$top_srcdir/tests/pop3-sasl.py" "$port" SCRAM-SHA-256 bob@example.org pw)
	ok $? "AUTH SCRAM-SHA-256 with gsasl: logged in, the server's signature checked"
	out=$("$PYTHON3" "$top_srcdir/tests/pop3-sasl.py" "$port" PLAIN bob@example.org pw)
	ok $? "AUTH PLAIN with gsasl"
	out=$("$PYTHON3" "$top_srcdir/tests/pop3-sasl.py" "$port" SCRAM-SHA-256 bob@example.org nope)
	is "$out" "-ERR [AUTH] Authentication failed" "AUTH SCRAM-SHA-256 with a wrong password: -ERR [AUTH]"
else
	ok 1 "gsasl missing (Debian's gsasl package; scripts/deps installs it)"
fi
out=$(printf 'AUTH\r\nAUTH LOGIN\r\nQUIT\r\n' | raw)
is "$(printf '%s\n' "$out" | sed -n 2,6p | tr '\n' ' ')" "+OK PLAIN SCRAM-SHA-256 . -ERR Unsupported authentication mechanism " \
	"AUTH alone lists the mechanisms; LOGIN is not one"

# ---- curl ----
out=$(curl -s --max-time 10 "pop3://127.0.0.1:$port/" -u bob@example.org:pw)
is "$(echo "$out" | wc -l | tr -d ' ')" 2 "curl pop3:// lists the messages"
# message 1 is the oldest by the time in its name, seconds then
# microseconds as numbers (not zero-padded: text order can differ)
first=$(ls "$bobdir/cur" | sort -t. -k1,1n -k2.2,2n | head -1)
curl -s --max-time 10 "pop3://127.0.0.1:$port/1" -u bob@example.org:pw -o "$tmp/curl.out"
sed 's/$/\r/' "$bobdir/cur/$first" | cmp -s - "$tmp/curl.out"; ok $? "curl pop3:// RETR: the message as stored, with CR LF"
curl -s --max-time 10 "pop3://127.0.0.1:$port/1" -u bob@example.org:pw --login-options AUTH=PLAIN -o "$tmp/curl.out"
sed 's/$/\r/' "$bobdir/cur/$first" | cmp -s - "$tmp/curl.out"; ok $? "... with SASL PLAIN"
stop_tcpserver

# ---- TLS: STLS required by default, implicit TLS, the injection ----
start_tcpserver "$MAIL_POP3D" $TLS
out=$(printf 'CAPA\r\nUSER bob@example.org\r\nAUTH PLAIN AGJvYkBleGFtcGxlLm9yZwBwdw==\r\nQUIT\r\n' | raw)
printf '%s\n' "$out" | sed -n '/^+OK Cap/,/^\.$/p' | grep -qx 'USER'; [ $? -ne 0 ]; ok $? "without TLS, CAPA offers no USER"
printf '%s\n' "$out" | grep -qx 'STLS'; ok $? "... but STLS"
is "$(printf '%s\n' "$out" | grep -c '^-ERR \[AUTH\] Plaintext authentication disallowed')" 2 \
	"... USER and AUTH are refused before TLS"
out=$(pop '
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3("127.0.0.1", port, timeout=10)
print(p.stls(ctx).decode())
print("USER" in p.capa(), "STLS" in p.capa())
p.user("bob@example.org"); print(p.pass_("pw").decode().split(",")[0])
print(p.stat()[0])
p.quit()
')
is "$(echo "$out" | tr '\n' '|')" "+OK Begin TLS negotiation|True False|+OK Logged in|2|" \
	"poplib STLS: then USER is offered, STLS no more, and USER/PASS logs in"
out=$("$PY" - "$port" <<'PYEOF'
import socket, ssl, sys
# STLS and CAPA in one packet: the CAPA must not be answered over TLS
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
f = s.makefile("rb")
f.readline()
s.sendall(b"STLS\r\nCAPA\r\n")
print(f.readline().decode().strip())
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s, server_hostname="localhost")
t.sendall(b"QUIT\r\n")
data = b""
while True:
    c = t.recv(4096)
    if not c:
        break
    data += c
print(data.decode().replace("\r\n", "|"))
PYEOF
)
is "$(echo "$out" | tr '\n' ' ')" "+OK Begin TLS negotiation +OK Bye| " \
	"STLS injection: the CAPA sent with STLS in plaintext is never answered"
if command -v gnutls-cli >/dev/null; then
	out=$(printf 'USER bob@example.org\r\nPASS pw\r\nSTAT\r\nQUIT\r\n' |
		timeout 20 gnutls-cli --insecure --starttls-proto=pop3 -p "$port" 127.0.0.1 2>&1)
	printf '%s\n' "$out" | grep -q '^+OK 2 '; ok $? "gnutls-cli --starttls-proto=pop3: STLS, login, STAT"
else
	ok 1 "gnutls-cli missing (gnutls-bin)"
fi
stop_tcpserver
start_tcpserver "$MAIL_POP3D" --tls $TLS
out=$(pop '
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=10)
print("STLS" in p.capa(), "USER" in p.capa())
p.user("bob@example.org"); print(p.pass_("pw").decode().split(",")[0])
p.quit()
')
is "$(echo "$out" | tr '\n' '|')" "False True|+OK Logged in|" "--tls: poplib POP3_SSL logs in; no STLS offered"
curl -s --max-time 10 --insecure "pop3s://127.0.0.1:$port/1" -u bob@example.org:pw -o "$tmp/curl.out"
sed 's/$/\r/' "$bobdir/cur/$first" | cmp -s - "$tmp/curl.out"; ok $? "curl pop3s:// RETR"
stop_tcpserver

# ---- mbox ----
start_tcpserver "$MAIL_POP3D" --allow-plaintext
printf 'Subject: m1\n\nFrom the start\n>From quoted\n' | store --mbox "$tmp/carol.mbox"
printf 'Subject: m2\n\nsecond\n' | store --mbox "$tmp/carol.mbox"
printf 'Subject: m3\n\nthird\n' | store --mbox "$tmp/carol.mbox"
out=$("$PY" - "$port" "$tmp/carol.mbox" "$MAIL_STORE" <<'PYEOF'
import poplib, subprocess, sys
port, mbox, store = int(sys.argv[1]), sys.argv[2], sys.argv[3]
p = poplib.POP3("127.0.0.1", port, timeout=10)
p.user("carol@example.org"); p.pass_("pw3")
print(p.stat()[0])
resp, lines, octets = p.retr(1)
body = b"".join(l + b"\r\n" for l in lines)
print(b"\r\nFrom the start\r\n>From quoted\r\n" in body, len(body) == int(p.list(1).split()[2]))
print(len(set(l.split()[1] for l in p.uidl()[1])))
p.dele(2)
# mail delivered during the session stays
subprocess.run([store, "-f", "x@remote.test", "--mbox", mbox], input=b"Subject: m4\n\nduring\n", check=True)
print(p.quit().decode())
PYEOF
)
is "$(echo "$out" | tr '\n' '|')" "3|True True|3|+OK Logging out, messages deleted|" \
	"mbox: 3 messages, >From unquoted once (mboxrd), LIST size exact, 3 distinct UIDLs"
is "$(grep '^Subject:' "$tmp/carol.mbox" | tr '\n' ' ')" "Subject: m1 Subject: m3 Subject: m4 " \
	"... DELE 2 and QUIT rewrote it: m2 gone, m4 (delivered meanwhile) kept"
"$PYTHON3" -c 'import mailbox, sys; m = mailbox.mbox(sys.argv[1]); sys.exit(0 if len(m) == 3 and m[0].get_payload().startswith(">From the start") else 1)' "$tmp/carol.mbox"
ok $? "... Python's mailbox reads the rewritten mbox"
grep -qx '>>From quoted' "$tmp/carol.mbox"; ok $? "... with its quoting intact"
uid1=$(printf 'USER carol@example.org\r\nPASS pw3\r\nUIDL 1\r\nQUIT\r\n' | raw | sed -n 3p)
uid2=$(printf 'USER carol@example.org\r\nPASS pw3\r\nUIDL 1\r\nQUIT\r\n' | raw | sed -n 3p)
is "$uid2" "$uid1" "mbox UIDLs are stable across sessions and rewrites"

# ---- fetchmail and getmail6, keep and delete ----
for i in 1 2 3; do printf 'Subject: fetch %s\n\nbody %s\n' "$i" "$i" | store --maildir "$tmp/vmail/example.org/dave/Maildir"; done
davedir=$tmp/vmail/example.org/dave/Maildir
if command -v fetchmail >/dev/null; then
	cat >"$tmp/fetchmailrc" <<EOF
poll 127.0.0.1 service $port protocol pop3 auth password
  user "dave@example.org" there with password "pw4" is root here
  sslproto '' keep mda "/bin/sh -c 'cat >> $tmp/fetched.mbox'"
EOF
	chmod 600 "$tmp/fetchmailrc"
	HOME=$tmp FETCHMAILHOME=$tmp fetchmail -f "$tmp/fetchmailrc" >"$tmp/fetchmail.log" 2>&1
	rc=$?
	[ "$rc" -eq 0 ]; ok $? "fetchmail with keep: exit 0"
	is "$(grep -c '^Subject: fetch' "$tmp/fetched.mbox" 2>/dev/null)" 3 "... three messages fetched"
	is "$(ls "$davedir/cur" | wc -l | tr -d ' ')" 3 "... and kept on the server"
	sed -i 's/ keep mda/ nokeep mda/' "$tmp/fetchmailrc"
	HOME=$tmp FETCHMAILHOME=$tmp fetchmail -f "$tmp/fetchmailrc" --all >"$tmp/fetchmail.log" 2>&1
	ok $? "fetchmail without keep: exit 0"
	is "$(ls "$davedir/cur" "$davedir/new" | grep -c ',S=')" 0 "... the messages are deleted on the server"
	is "$(grep -c '^Subject: fetch' "$tmp/fetched.mbox")" 6 "... after being fetched again"
else
	ok 1 "fetchmail missing (scripts/deps installs it)"
fi
for i in 4 5; do printf 'Subject: getmail %s\n\nbody %s\n' "$i" "$i" | store --maildir "$davedir"; done
if command -v getmail >/dev/null; then
	mkdir -p "$tmp/gmdir"
	# getmail will not write a Maildir as root; an external MDA it will
	cat >"$tmp/getmailrc" <<EOF
[retriever]
type = SimplePOP3Retriever
server = 127.0.0.1
port = $port
username = dave@example.org
password = pw4

[destination]
type = MDA_external
path = /bin/sh
arguments = ("-c", "cat >> $tmp/gm.mbox")
allow_root_commands = true

[options]
delete = false
read_all = true
EOF
	getmail --rcfile "$tmp/getmailrc" --getmaildir "$tmp/gmdir" >"$tmp/getmail.log" 2>&1
	ok $? "getmail6 (keep): exit 0" || sed 's/^/#   /' "$tmp/getmail.log"
	is "$(grep -c '^Subject: getmail' "$tmp/gm.mbox" 2>/dev/null)" 2 "... two messages into its mbox"
	sed -i 's/^delete = false/delete = true/' "$tmp/getmailrc"
	getmail --rcfile "$tmp/getmailrc" --getmaildir "$tmp/gmdir" >"$tmp/getmail.log" 2>&1
	ok $? "getmail6 (delete): exit 0"
	is "$(ls "$davedir/cur" "$davedir/new" | grep -c ',S=')" 0 "... and the server's copies are gone"
else
	ok 1 "getmail6 missing (scripts/deps installs it)"
fi

# ---- a 100 MB message, in bounded memory ----
"$PYTHON3" -c '
import sys
w = sys.stdout.buffer
w.write(b"Subject: big\n\n")
line = b"x" * 99 + b"\n"
for i in range(1000000):
    w.write(line)
' | store --maildir "$tmp/vmail/example.org/dave/Maildir"
out=$("$PYTHON3" - "$MAIL_POP3D" "$MAIL_CONF" <<'PYEOF'
import os, resource, socket, subprocess, sys
prog, conf = sys.argv[1], sys.argv[2]
a, b = socket.socketpair()
p = subprocess.Popen([prog, "--allow-plaintext"], stdin=b, stdout=b, stderr=subprocess.DEVNULL, env=dict(os.environ, MAIL_CONF=conf))
b.close()
f = a.makefile("rb")
f.readline()
a.sendall(b"USER dave@example.org\r\nPASS pw4\r\nRETR 1\r\n")
f.readline(); f.readline()
first = f.readline()
got = 0
for line in f:
    if line == b".\r\n":
        break
    got += len(line)
a.sendall(b"QUIT\r\n")
f.readline()
p.wait(timeout=30)
print(first.decode().strip(), got, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PYEOF
)
size=$(echo "$out" | cut -d' ' -f2)
octets=$(echo "$out" | cut -d' ' -f4)
rss=$(echo "$out" | cut -d' ' -f5)
is "$octets" "$size" "a 100 MB message: RETR sends all $size octets it announced"
[ "${rss:-999999}" -lt 65536 ]; ok $? "... in bounded memory (peak ${rss:-?} KiB < 64 MiB, a 100 MB message)"
stop_tcpserver

# ---- a root server gives way to the mailbox's owner ----
if [ "$(id -u)" -eq 0 ]; then
	chmod 711 "$tmp" "$tmp/vmail" "$tmp/vmail/example.org"
	chown -R nobody "$tmp/vmail/example.org/dave"
	out=$("$PYTHON3" - "$MAIL_POP3D" "$MAIL_CONF" <<'PYEOF'
import os, socket, subprocess, sys
prog, conf = sys.argv[1], sys.argv[2]
a, b = socket.socketpair()
p = subprocess.Popen([prog, "--allow-plaintext"], stdin=b, stdout=b, stderr=subprocess.DEVNULL, env=dict(os.environ, MAIL_CONF=conf))
b.close()
f = a.makefile("rb")
f.readline()
a.sendall(b"USER dave@example.org\r\nPASS pw4\r\n")
f.readline(); f.readline()
uid = [l.split()[1] for l in open("/proc/%d/status" % p.pid) if l.startswith("Uid:")][0]
a.sendall(b"QUIT\r\n")
f.readline()
p.wait(timeout=10)
print(uid)
PYEOF
)
	is "$out" "$(id -u nobody)" "started as root, the session runs as the mailbox's owner once logged in"

	# a new account, no Maildir yet, under root's directories and without
	# delivery_user: the session stays root and finds an empty mailbox
	echo pw6 | mu add gina@example.org --password-stdin >/dev/null
	start_tcpserver "$MAIL_POP3D" --allow-plaintext
	out=$("$PYTHON3" -c '
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
p.user("gina@example.org"); p.pass_("pw6")
print(p.stat())
p.quit()' "$port" 2>&1)
	stop_tcpserver
	is "$out" "(0, 0)" "started as root, a new account's first login (no Maildir yet): an empty mailbox"

	# an mbox in a directory its owner may not write (as /var/mail without
	# the mail group): no lock file, no new file: compacted in place
	mkdir "$tmp/spool"
	chmod 755 "$tmp/spool"
	echo pw5 | mu add erin@example.org --password-stdin --mbox "$tmp/spool/erin" >/dev/null
	for i in 1 2 3; do printf 'Subject: spool %s\n\nbody %s\n' "$i" "$i" | store --mbox "$tmp/spool/erin"; done
	chown nobody "$tmp/spool/erin"
	start_tcpserver "$MAIL_POP3D" --allow-plaintext
	out=$(printf 'USER erin@example.org\r\nPASS pw5\r\nDELE 2\r\nQUIT\r\n' | raw)
	printf '%s\n' "$out" | sed -n 5p | grep -q '^+OK Logging out'; ok $? "an mbox in a directory its owner cannot write: DELE and QUIT work"
	is "$(grep '^Subject:' "$tmp/spool/erin" | tr '\n' ' ')" "Subject: spool 1 Subject: spool 3 " \
		"... the mbox was compacted in place, message 2 gone"
	is "$(stat -c %U "$tmp/spool/erin")" nobody "... still the owner's file"
	"$PYTHON3" -c 'import mailbox, sys; sys.exit(0 if len(mailbox.mbox(sys.argv[1])) == 2 else 1)' "$tmp/spool/erin"
	ok $? "... and Python's mailbox reads it"
	stop_tcpserver
	chmod 700 "$tmp"
else
	ok 0 "# SKIP not root"
fi

done_testing
