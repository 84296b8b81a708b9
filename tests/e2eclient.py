#!/usr/bin/env python3
"""Clients for the end-to-end test (tests/0027-e2e.t): Python's own
smtplib, imaplib and poplib, so that the server is read back by code that
is not ours.

usage: e2eclient.py COMMAND ARGS...

  imap PORT USER PWFILE MSGID OUT [implicit]
      log in over STARTTLS (or TLS from the first byte with "implicit"),
      find the INBOX message whose Message-ID is MSGID, write its
      BODY.PEEK[] to OUT
  pop3 PORT USER PWFILE MSGID OUT [implicit]
      the same over POP3 (STLS, or POP3S), with RETR; never deletes
  send PORT FROM TO... < MESSAGE
      plain SMTP, no AUTH; prints the reply to the end of data
  submit PORT USER PWFILE FROM TO... < MESSAGE
      STARTTLS, AUTH, then the message; prints the reply to the end of data
  rcpt PORT FROM TO
      MAIL and RCPT only; prints the RCPT reply as "CODE TEXT"
  stream PORT COUNT TO ACKS TRIED SECONDS
      COUNT messages, Subject "stream N", one after the other on one
      connection, reconnecting and retrying the same message after any
      failure, for at most SECONDS; each attempt has a Message-ID of its
      own, <stream-N.K@e2e.test>; appends the Message-ID of every attempt
      the server acknowledged with 250 to ACKS, of every one whose data
      went out to TRIED
  dsn FILE
      an RFC 3464 notice as Python's email package reads it: its type and
      report-type, then "Action Status Final-Recipient | Diagnostic-Code"
      per recipient
  crlf FILE
      FILE with every LF as CR LF, on stdout
  verify PORT CAFILE HOST
      TLS from the first byte, verifying the certificate for HOST against
      CAFILE; prints the first line the server sends

Exit 0 on success, 1 when the server said no or a message is not found,
2 on any other error, with one line on stderr.
"""
import email
import imaplib
import poplib
import re
import smtplib
import socket
import ssl
import sys
import time
from email import policy

HOST = "127.0.0.1"


def insecure():
    # the certificate is checked once, by "verify"; the rest only need TLS
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def password(path):
    with open(path) as f:
        return f.read().strip()


def msgid_of(raw):
    m = email.message_from_bytes(raw, policy=policy.compat32)
    return (m.get("Message-ID") or "").strip()


def imap(port, user, pwfile, msgid, out, mode=""):
    if mode == "implicit":
        c = imaplib.IMAP4_SSL(HOST, int(port), ssl_context=insecure(), timeout=30)
    else:
        c = imaplib.IMAP4(HOST, int(port), timeout=30)
        c.starttls(insecure())
    c.login(user, password(pwfile))
    typ, data = c.select("INBOX", readonly=True)
    if typ != "OK":
        raise RuntimeError("SELECT INBOX: %r" % data)
    if int(data[0]) == 0:
        c.logout()
        return 1
    typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    seq = None
    for item in data:
        if isinstance(item, tuple) and msgid_of(item[1]) == msgid:
            seq = item[0].split()[0].decode()
    if seq is None:
        c.logout()
        return 1
    typ, data = c.fetch(seq, "(BODY.PEEK[])")
    body = [item[1] for item in data if isinstance(item, tuple)]
    if typ != "OK" or len(body) != 1:
        raise RuntimeError("FETCH %s BODY.PEEK[]: %r" % (seq, data))
    with open(out, "wb") as f:
        f.write(body[0])
    c.logout()
    return 0


def pop3(port, user, pwfile, msgid, out, mode=""):
    if mode == "implicit":
        c = poplib.POP3_SSL(HOST, int(port), context=insecure(), timeout=30)
    else:
        c = poplib.POP3(HOST, int(port), timeout=30)
        c.stls(insecure())
    c.user(user)
    c.pass_(password(pwfile))
    count = c.stat()[0]
    for n in range(1, count + 1):
        lines = c.retr(n)[1]
        # poplib has undone the dot stuffing and taken off the line ends
        raw = b"".join(line + b"\r\n" for line in lines)
        if msgid_of(raw) == msgid:
            with open(out, "wb") as f:
                f.write(raw)
            c.quit()
            return 0
    c.quit()
    return 1


def send(port, sender, *rcpts, auth=None):
    # smtplib sends bytes as they are: the line ends must be CR LF already
    data = re.sub(rb"(?<!\r)\n", b"\r\n", sys.stdin.buffer.read())
    s = smtplib.SMTP(HOST, int(port), timeout=30)
    s.ehlo("client.e2e.test")
    if auth:
        s.starttls(context=insecure())
        s.ehlo("client.e2e.test")
        s.login(auth[0], password(auth[1]))
    code, msg = s.mail(sender)
    if code != 250:
        print(code, msg.decode(errors="replace"))
        return 1
    for r in rcpts:
        code, msg = s.rcpt(r)
        if code not in (250, 251):
            print(code, msg.decode(errors="replace"))
            return 1
    code, msg = s.data(data)
    print(code, msg.decode(errors="replace"))
    s.quit()
    return 0 if code == 250 else 1


def rcpt(port, sender, to):
    s = smtplib.SMTP(HOST, int(port), timeout=30)
    s.ehlo("client.e2e.test")
    s.mail(sender)
    code, msg = s.rcpt(to)
    print(code, msg.decode(errors="replace"))
    s.quit()
    return 0


def stream(port, count, to, acks, tried, seconds):
    end = time.time() + float(seconds)
    s = None
    i = 0
    failures = 0
    with open(acks, "a") as ack, open(tried, "a") as tri:
        while i < int(count):
            if time.time() > end:
                print("stream: gave up at message %d after %d failures" % (i, failures), file=sys.stderr)
                return 1
            mid = "<stream-%d.%d@e2e.test>" % (i, failures)
            msg = ("From: stream@remote.test\r\nTo: %s\r\nSubject: stream %d\r\n"
                   "Message-ID: %s\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n"
                   "message %d of the stream\r\n" % (to, i, mid, i)).encode()
            try:
                if s is None:
                    s = smtplib.SMTP(HOST, int(port), timeout=10)
                    s.ehlo("stream.e2e.test")
                code, reply = s.mail("stream@remote.test")
                if code != 250:
                    raise smtplib.SMTPResponseException(code, reply)
                code, reply = s.rcpt(to)
                if code != 250:
                    raise smtplib.SMTPResponseException(code, reply)
                tri.write(mid + "\n")
                tri.flush()
                code, reply = s.data(msg)
                if code != 250:
                    raise smtplib.SMTPResponseException(code, reply)
                ack.write(mid + "\n")
                ack.flush()
                i += 1
                # slow enough that a restart falls in the middle
                time.sleep(0.01)
            except (OSError, smtplib.SMTPException) as e:
                failures += 1
                print("stream: message %d: %s: %s" % (i, type(e).__name__, e), file=sys.stderr)
                try:
                    s.close()
                except Exception:
                    pass
                s = None
                time.sleep(0.1)
        try:
            s.quit()
        except Exception:
            pass
    print("stream: %d messages acknowledged, %d failed attempts" % (i, failures), file=sys.stderr)
    return 0


def dsn(path):
    with open(path, "rb") as f:
        m = email.message_from_binary_file(f, policy=policy.default)
    print(m.get_content_type(), m.get_param("report-type"))
    for p in m.iter_parts():
        if p.get_content_type() == "message/delivery-status":
            for b in p.get_payload()[1:]:
                print(b["Action"], b["Status"], b["Final-Recipient"], "|", b["Diagnostic-Code"])
    return 0


def crlf(path):
    with open(path, "rb") as f:
        sys.stdout.buffer.write(f.read().replace(b"\n", b"\r\n"))
    return 0


def verify(port, cafile, host):
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((HOST, int(port)), 10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            s.settimeout(10)
            print(s.recv(512).split(b"\r\n")[0].decode(errors="replace"))
    return 0


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "imap":
        return imap(*args)
    if cmd == "pop3":
        return pop3(*args)
    if cmd == "send":
        return send(*args)
    if cmd == "submit":
        return send(args[0], *args[3:], auth=(args[1], args[2]))
    if cmd == "rcpt":
        return rcpt(*args)
    if cmd == "stream":
        return stream(*args)
    if cmd == "dsn":
        return dsn(*args)
    if cmd == "crlf":
        return crlf(*args)
    if cmd == "verify":
        return verify(*args)
    print("e2eclient: unknown command %s" % cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, smtplib.SMTPException, imaplib.IMAP4.error, poplib.error_proto,
            RuntimeError) as e:
        print("e2eclient %s: %s: %s" % (sys.argv[1], type(e).__name__, e), file=sys.stderr)
        sys.exit(2)
