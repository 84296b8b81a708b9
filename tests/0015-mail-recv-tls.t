#!/bin/sh
# mail-recv with TLS (GnuTLS): STARTTLS with smtplib and gnutls-cli, implicit
# TLS (port 465 style), AUTH offered only over TLS, the STARTTLS injection
# (CVE-2011-0411 class), and session resumption across processes through
# the shared ticket key.
. "${top_srcdir:-.}/tests/lib.sh"

MAIL_RECV=$top_builddir/mail-recv
use_mail_conf "example.org"
echo "queue_dir = $tmp/queue" >>"$tmp/mail.conf"
echo pw | mu add bob@example.org --password-stdin --no-scram
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-subj /CN=mx.example.org -days 2 2>/dev/null
ok $? "a self-signed certificate"
py() { "$PYTHON3" -c "
import smtplib, socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
port = $port
$1
"; }

start_tcpserver "$MAIL_RECV" --hostname mx.example.org --cert "$tmp/cert.pem" --key "$tmp/key.pem"
out=$(py "
s = smtplib.SMTP('127.0.0.1', port, timeout=10)
before = s.ehlo()[1].decode().split('\n')
s.starttls(context=ctx)
after = s.ehlo()[1].decode().split('\n')
print('STARTTLS' in before, any(x.startswith('AUTH') for x in before))
print('STARTTLS' in after, any(x.startswith('AUTH') for x in after))
s.login('bob@example.org', 'pw')
print(s.sendmail('bob@example.org', ['x@elsewhere.test'], b'Subject: tls\r\n\r\nx\r\n'))
print(s.sock.version())")
is "$(printf '%s\n' "$out" | sed -n 1p)" "True False" "before TLS: STARTTLS offered, AUTH not"
is "$(printf '%s\n' "$out" | sed -n 2p)" "False True" "after TLS: AUTH offered, STARTTLS not"
is "$(printf '%s\n' "$out" | sed -n 3p)" "{}" "smtplib: STARTTLS, AUTH PLAIN, relay as the user"
case "$(printf '%s\n' "$out" | sed -n 4p)" in TLSv1.[23]) ok 0 "TLS 1.2 or later";; *) ok 1 "TLS 1.2 or later";; esac
f=$(ls -t "$tmp/queue/msg/"* | head -1)
grep -q 'with ESMTPSA id' "$f"; ok $? "Received: says ESMTPSA (RFC 3848)"
grep -q '(using (TLS1' "$f"; ok $? "... and names the TLS session"
grep -q '(Authenticated sender: bob@example.org)' "$f"; ok $? "... and the authenticated user"

out=$(printf 'EHLO c\r\nAUTH PLAIN AGJvYkBleGFtcGxlLm9yZwBwdw==\r\nQUIT\r\n' | "$PYTHON3" "$top_srcdir/tests/smtpraw.py" "$port")
printf '%s\n' "$out" | grep -q '^503 5.5.1 AUTH not available'; ok $? "AUTH in plaintext is refused"

# STARTTLS injection: a command pipelined after STARTTLS in plaintext must
# be thrown away, not run inside the TLS session.
out=$(py "
s = socket.create_connection(('127.0.0.1', port), 10)
f = s.makefile('rb')
f.readline()
s.sendall(b'EHLO c\r\nSTARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n')
while True:
    line = f.readline()
    if line.startswith(b'220'):
        break
t = ctx.wrap_socket(s)
t.sendall(b'QUIT\r\n')
print(t.recv(512).decode().strip())")
is "$out" "221 2.0.0 Bye" "the injected command is not answered inside TLS"
grep -q 'pipelined plaintext discarded' "$tmp/server.log"; ok $? "... it is logged as discarded"

# stdin stays open until the replies are in: gnutls-cli stops reading the
# server once its stdin ends
out=$({ printf 'EHLO c\r\n'; sleep 1; printf 'QUIT\r\n'; sleep 1; } | gnutls-cli --insecure --starttls-proto=smtp -p "$port" 127.0.0.1 2>/dev/null)
printf '%s\n' "$out" | grep -q '^221 2.0.0'; ok $? "gnutls-cli --starttls-proto=smtp"
stop_tcpserver

# implicit TLS, and resumption in a second process with the shared ticket key
start_tcpserver "$MAIL_RECV" --hostname mx.example.org --cert "$tmp/cert.pem" --key "$tmp/key.pem" --tls
out=$(py "
s = smtplib.SMTP_SSL('127.0.0.1', port, context=ctx, timeout=10)
s.login('bob@example.org', 'pw')
print(s.sendmail('bob@example.org', ['bob@example.org'], b'Subject: smtps\r\n\r\nx\r\n'))
s.quit()")
is "$out" "{}" "--tls: smtplib's SMTP_SSL"
out=$(py "
def connect(session=None):
    t = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), 10), session=session)
    f = t.makefile('rb')
    f.readline()
    t.sendall(b'QUIT\r\n')
    f.readline()
    return t
a = connect()
b = connect(a.session)
print(a.session_reused, b.session_reused)")
is "$out" "False True" "a second process resumes the session (shared ticket key)"
check "the ticket key file is private" sh -c "[ \"\$(stat -c %a '$tmp/queue/tls-ticket.key')\" = 600 ]"
stop_tcpserver

start_tcpserver "$MAIL_RECV" --hostname mx.example.org --cert "$tmp/nocert.pem" --key "$tmp/key.pem"
out=$(printf 'QUIT\r\n' | "$PYTHON3" "$top_srcdir/tests/smtpraw.py" "$port")
is "$out" "" "an unreadable certificate: no session at all"
grep -q "mail-recv: certificate $tmp/nocert.pem" "$tmp/server.log"; ok $? "... and one line saying why"
stop_tcpserver

# GnuTLS is loaded only when a client asks for TLS: a plaintext session
# never maps it (it costs about 2 ms per process start)
start_tcpserver "$MAIL_RECV" --cert "$tmp/cert.pem" --key "$tmp/key.pem"
out=$(py "
import os
s = socket.create_connection(('127.0.0.1', port), 10)
f = s.makefile('rb')
f.readline()
def mapped():
    # the mail-recv processes (not tcpserver), by their executable
    found = False
    for p in os.listdir('/proc'):
        try:
            if p.isdigit() and os.path.realpath('/proc/%s/exe' % p) == os.path.realpath('$MAIL_RECV'):
                found = found or 'libgnutls' in open('/proc/%s/maps' % p).read()
        except OSError:
            pass
    return found
before = mapped()
s.sendall(b'EHLO c\r\nSTARTTLS\r\n')
while not f.readline().startswith(b'220'):
    pass
t = ctx.wrap_socket(s)
after = mapped()
t.sendall(b'QUIT\r\n')
t.recv(100)
print(before, after)")
is "$out" "False True" "libgnutls is mapped only after STARTTLS"
stop_tcpserver

# a certificate that cannot be used: STARTTLS says 454 and plaintext goes on
echo "not a certificate" >"$tmp/junk.pem"
start_tcpserver "$MAIL_RECV" --cert "$tmp/junk.pem" --key "$tmp/key.pem"
out=$(printf 'EHLO c\r\nSTARTTLS\r\nNOOP\r\nQUIT\r\n' | "$PYTHON3" "$top_srcdir/tests/smtpraw.py" "$port")
printf '%s\n' "$out" | grep -q '^454 4.7.0'; ok $? "an unusable certificate: 454 4.7.0 to STARTTLS"
is "$(printf '%s\n' "$out" | tail -2 | tr '\n' ' ')" "250 2.0.0 Ok 221 2.0.0 Bye " "... and the session goes on in plaintext"
grep -q 'tls=unavailable error="certificate' "$tmp/server.log"; ok $? "... with the reason logged"
stop_tcpserver

done_testing
