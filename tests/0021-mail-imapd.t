#!/bin/sh
# mail-imapd under tcpserver, driven by Python's imaplib as the real
# client (with a raw socket where the wire itself is the point): STARTTLS
# and implicit TLS, LOGIN and AUTHENTICATE (PLAIN with and without SASL-IR,
# SCRAM-SHA-256 with gsasl), SELECT/EXAMINE, FETCH byte for byte against
# the stored files (sections, partials, BINARY, ENVELOPE, BODYSTRUCTURE),
# STORE, SEARCH and ESEARCH, COPY/MOVE/EXPUNGE with UIDPLUS, APPEND
# (APPENDLIMIT, LITERAL+), folders (LIST-EXTENDED, SPECIAL-USE, STATUS,
# RENAME INBOX), IMAP4rev2 UTF-8 names next to mail-store's --folder,
# IDLE, two sessions, UIDs across sessions, the STARTTLS injection, hostile
# names and lines, and the root privilege drop.
. "${top_srcdir:-.}/tests/lib.sh"

MAIL_IMAPD=$top_builddir/mail-imapd
use_mail_conf "example.org"
echo pw | mu add bob@example.org --password-stdin >/dev/null
echo pw2 | mu add carol@example.org --password-stdin >/dev/null
echo pw4 | mu add dave@example.org --password-stdin >/dev/null
printf 'Subject: d1\n\ndave one\n' | "$MAIL_STORE" -f alice@remote.test --maildir "$tmp/vmail/example.org/dave/Maildir"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-subj /CN=localhost -days 2 2>/dev/null
ok $? "a self-signed certificate"
TLS="--cert $tmp/cert.pem --key $tmp/key.pem"
bobdir=$tmp/vmail/example.org/bob/Maildir
caroldir=$tmp/vmail/example.org/carol/Maildir
store() { "$MAIL_STORE" -f alice@remote.test "$@"; }

printf 'From: Alice <alice@remote.test>\nTo: bob@example.org\nSubject: one\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <one@remote.test>\n\nfirst message\nline two\n' |
	store --maildir "$bobdir"
store --maildir "$bobdir" <<'EOF'
From: =?UTF-8?Q?J=C3=BCrgen?= <juergen@remote.test>
To: Bob <bob@example.org>, carol@example.org
Cc: dave@example.org
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= with attachment
Date: Tue, 2 Jan 2024 11:00:00 +0100
Message-ID: <multi@remote.test>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XYZ"

This is a MIME message.
--XYZ
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Hallo Bob, schöne Grüße.

--XYZ
Content-Type: application/octet-stream; name="data.bin"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="data.bin"

AAECAwQFBgcICQ==
--XYZ--
EOF
{
	printf 'From: Carol <carol@remote.test>\nTo: bob@example.org\nSubject: three\nMessage-ID: <three@remote.test>\n\n'
	i=0
	while [ $i -lt 60 ]; do printf 'filler line %02d of a long message body............................\n' $i; i=$((i + 1)); done
	printf 'a needle in the haystack\n'
} | store --maildir "$bobdir"
is "$(ls "$bobdir/new" | wc -l | tr -d ' ')" 3 "three messages delivered by mail-store"
printf 'Subject: c1\n\ncarol one\n' | store --maildir "$caroldir"
printf 'Subject: c2\n\ncarol two\n' | store --maildir "$caroldir"

PY=$(python_with imaplib ssl) || PY=$PYTHON3
cat >"$tmp/imapt.py" <<'PYEOF'
"""Helpers for the mail-imapd test: imaplib with a transcript, a raw
socket client, the stored messages."""
import imaplib, os, re, socket, ssl, subprocess, sys, time

PORT = int(os.environ["IMAP_PORT"])
TMP = os.environ["TMP"]
BOBDIR = os.environ["BOBDIR"]
STORE = os.environ["MAIL_STORE"]
ctx = ssl.create_default_context()
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED", "LOGOUT"))
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


class Wire:
    """imaplib that keeps every line the server sent, in self.wire."""
    def _get_line(self):
        line = super()._get_line()
        self.wire.append(line.decode("utf-8", "replace"))
        return line

    def mark(self):
        self.wire_mark = len(self.wire)

    def since(self):
        return self.wire[getattr(self, "wire_mark", 0):]

    def tagged(self):
        return self.wire[-1].split(" ", 1)[1]


class C(Wire, imaplib.IMAP4):
    def __init__(self, port=None):
        self.wire = []
        super().__init__("127.0.0.1", port or PORT, timeout=10)


class S(Wire, imaplib.IMAP4_SSL):
    def __init__(self, port):
        self.wire = []
        super().__init__("127.0.0.1", port, ssl_context=ctx, timeout=10)


def login(user="bob@example.org", pw="pw", port=None):
    m = C(port)
    m.login(user, pw)
    return m


def err(f, *a):
    """What an imaplib call that must fail got: "error: ..." when imaplib
    raised, else the status and the tagged text ("NO [CODE] ...")."""
    try:
        typ, dat = f(*a)
    except imaplib.IMAP4.error as e:
        return "error: %s" % e
    last = dat[-1] if dat else b""
    return "%s %s" % (typ, last.decode() if isinstance(last, bytes) else last)


def stored(folder=BOBDIR):
    """The folder's messages as IMAP must send them: CR LF, by base name."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(folder, sub)
        for name in os.listdir(d):
            data = open(os.path.join(d, name), "rb").read()
            out[name.split(":")[0]] = data.replace(b"\n", b"\r\n")
    return out


def literals(dat):
    """imaplib FETCH data of one message: {item label: literal bytes}."""
    out = {}
    for part in dat:
        if isinstance(part, tuple):
            mo = re.search(rb"((?:BODY|BINARY|RFC822)[^ ]*(?: \([^)]*\)\])?(?:<\d+>)?) ~?\{\d+\}$", part[0])
            out[mo.group(1).decode()] = part[1]
    return out


def flags(resp):
    """The sorted flags in a FETCH response line (without \\Recent)."""
    if isinstance(resp, bytes):
        resp = resp.decode()
    mo = re.search(r"FLAGS \(([^)]*)\)", resp)
    if mo is None:
        return None
    return " ".join(sorted(f for f in mo.group(1).split() if f != "\\Recent"))


class Raw:
    """A socket client that sees the wire: lines (literals joined in),
    reads under a deadline, never a sleep."""
    def __init__(self, port=None, tls=False):
        self.s = socket.create_connection(("127.0.0.1", port or PORT), 10)
        if tls:
            self.s = ctx.wrap_socket(self.s, server_hostname="localhost")
        self.buf = b""
        self.n = 0
        self.eof = False
        self.greeting = self.line()

    def starttls(self):
        assert self.buf == b""
        self.s = ctx.wrap_socket(self.s, server_hostname="localhost")

    def send(self, data):
        self.s.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self, until):
        left = until - time.time()
        if left <= 0:
            return False
        self.s.settimeout(left)
        try:
            c = self.s.recv(65536)
        except (socket.timeout, ssl.SSLError):
            return False
        except OSError:
            c = b""
        if not c:
            self.eof = True
            return False
        self.buf += c
        return True

    def line(self, timeout=10):
        """The next line (a str), or None at the deadline or the end."""
        until = time.time() + timeout
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                if not self._fill(until):
                    return None
            l, self.buf = self.buf.split(b"\r\n", 1)
            out += l
            mo = re.search(rb"\{(\d+)\+?\}$", l)
            if mo is None:
                return out.decode("utf-8", "replace")
            n = int(mo.group(1))
            while len(self.buf) < n:
                if not self._fill(until):
                    return None
            out += b"\r\n" + self.buf[:n]
            self.buf = self.buf[n:]

    def cmd(self, text, timeout=10):
        """Send a tagged command (str or bytes); the lines up to its
        tagged reply."""
        self.n += 1
        tag = "t%d" % self.n
        self.send(tag.encode() + b" " + (text if isinstance(text, bytes) else text.encode()) + b"\r\n")
        return self.until(tag, timeout)

    def until(self, tag, timeout=10):
        lines = []
        while True:
            l = self.line(timeout)
            if l is None:
                lines.append("<closed>" if self.eof else "<timeout>")
                return lines
            lines.append(l)
            if l.startswith(tag + " "):
                return lines

    def login(self, user="bob@example.org", pw="pw"):
        return self.cmd("LOGIN %s %s" % (user, pw))[-1]


def unlit(line):
    """A line with its literals written as quoted strings."""
    out = ""
    while True:
        mo = re.search(r"\{(\d+)\}\r\n", line)
        if mo is None:
            return out + line
        rest = line[mo.end():].encode()
        n = int(mo.group(1))
        out += line[:mo.start()] + '"' + rest[:n].decode() + '"'
        line = rest[n:].decode()


def show(*a):
    print(*a)
    sys.stdout.flush()
PYEOF

# imap SCRIPT: Python with the helpers above, for the server at $port
imap() {
	_script=$1
	shift
	IMAP_PORT=$port TMP=$tmp BOBDIR=$bobdir MAIL_STORE=$MAIL_STORE PYTHONPATH=$tmp \
		"$PY" -c "from imapt import *
$_script" "$@"
}
# l N: line N of $out
l() { printf '%s\n' "$out" | sed -n "$1p"; }

# ---- STARTTLS: required before a login, and safe ----
start_tcpserver "$MAIL_IMAPD" $TLS
out=$(imap '
m = C()
show(m.wire[0])
show(err(m.login, "bob@example.org", "pw"))
show(err(m.authenticate, "PLAIN", lambda _: b"\0bob@example.org\0pw"))
m.starttls(ssl_context=ctx)
caps = m.capabilities
show("STARTTLS" in caps, "LOGINDISABLED" in caps, "AUTH=PLAIN" in caps, "AUTH=SCRAM-SHA-256" in caps)
typ, dat = m.login("bob@example.org", "pw")
show(typ, m.tagged().split("]")[0].startswith("OK [CAPABILITY IMAP4rev1"))
show(m.select("INBOX")[1][0].decode())
m.logout()
')
is "$(l 1 | sed 's/^\* OK \[CAPABILITY //; s/\] .*//' | tr ' ' '\n' | grep -E '^(STARTTLS|LOGINDISABLED|AUTH=.*|IMAP4rev1|IMAP4rev2)$' | tr '\n' ' ')" \
	"IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED " \
	"the greeting's CAPABILITY before TLS: IMAP4rev1, IMAP4rev2, STARTTLS, LOGINDISABLED, no AUTH="
l 1 | grep -q '^\* OK \[CAPABILITY .*\] '; ok $? "... in an OK greeting"
l 2 | grep -q '\[PRIVACYREQUIRED\]'; ok $? "imaplib LOGIN before TLS: NO [PRIVACYREQUIRED]"
l 3 | grep -q '\[PRIVACYREQUIRED\]'; ok $? "AUTHENTICATE PLAIN before TLS: NO [PRIVACYREQUIRED]"
is "$(l 4)" "False False True True" "after imaplib's starttls(): no STARTTLS, no LOGINDISABLED, AUTH=PLAIN and AUTH=SCRAM-SHA-256"
is "$(l 5)" "OK True" "... LOGIN works, its OK carries the CAPABILITY"
is "$(l 6)" 3 "... SELECT INBOX: 3 messages"

out=$(imap '
r = Raw()
# STARTTLS and a CAPABILITY in one packet: the CAPABILITY came in
# plaintext and must never be answered as if it had come through TLS
r.send("a STARTTLS\r\nb CAPABILITY\r\n")
show(r.line())
r.starttls()
got = r.cmd("NOOP")
show("|".join(got))
show(r.cmd("LOGIN bob@example.org pw")[-1].split("]")[0])
')
is "$(l 1)" "a OK Begin TLS negotiation now" "STARTTLS injection: STARTTLS answered in plaintext"
is "$(l 2)" "t1 OK NOOP completed" "... the CAPABILITY sent with it is never answered, over TLS or not"
is "$(l 3)" "t2 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE ESEARCH BINARY STATUS=SIZE APPENDLIMIT=26214400" \
	"... and after the handshake the session works"
port_starttls=$port

# ---- implicit TLS ----
start_tcpserver "$MAIL_IMAPD" --tls $TLS
out=$(imap '
m = S(PORT)
show("STARTTLS" in m.capabilities, "LOGINDISABLED" in m.capabilities, "AUTH=PLAIN" in m.capabilities)
show(m.login("bob@example.org", "pw")[0])
show(m.select("INBOX", readonly=True)[1][0].decode())
m.logout()
')
is "$(echo "$out" | tr '\n' '|')" "False False True|OK|3|" "--tls: imaplib IMAP4_SSL, no STARTTLS offered, LOGIN, EXAMINE"
port_tls=$port

# ---- the rest on a loopback port with --allow-plaintext ----
start_tcpserver "$MAIL_IMAPD" --allow-plaintext $TLS
port_main=$port
[ -d "$caroldir/.Sent" ]; ok $((!$?)) "before carol's first login, no Sent folder"
out=$(imap '
m = C()
m.authenticate("PLAIN", lambda _: b"\0carol@example.org\0pw2")
show(m.state, [w for w in m.wire if w.startswith("+")] != [])
typ, dat = m.list()
for d in sorted(dat):
    show(d.decode().replace("\"", ""))
m.logout()
')
is "$(l 1)" "AUTH True" "AUTHENTICATE PLAIN with imaplib (no SASL-IR: an empty \"+\" first)"
is "$(echo "$out" | sed 1d | tr '\n' '|')" \
	'(\HasNoChildren \Archive) . Archive|(\HasNoChildren \Drafts) . Drafts|(\HasNoChildren \Junk) . Junk|(\HasNoChildren \Sent) . Sent|(\HasNoChildren \Trash) . Trash|(\HasNoChildren) . INBOX|' \
	"after the first login the special-use folders exist, LIST shows their SPECIAL-USE attributes"
for f in Archive Drafts Junk Sent Trash; do [ -d "$caroldir/.$f/cur" ] || break; done
ok $? "... as Maildir++ folders on disk"

out=$(imap '
r = Raw()
got = r.cmd("AUTHENTICATE PLAIN AGJvYkBleGFtcGxlLm9yZwBwdw==")
show(len(got), got[-1].split(" [")[0], "Logged in" in got[-1])
r = Raw()
show(r.cmd("AUTHENTICATE PLAIN AGJvYkBleGFtcGxlLm9yZwB3cm9uZw==")[-1])
m = C()
show(err(m.authenticate, "PLAIN", lambda _: b"\0bob@example.org\0wrong"))
show(err(m.login, "bob@example.org", "wrong"))
show(err(m.login, "nobody@example.org", "pw"))
show(m.login("bob@example.org", "pw")[0])
')
is "$(l 1)" "1 t1 OK True" "AUTHENTICATE PLAIN with SASL-IR: logged in, no continuation"
is "$(l 2)" "t1 NO [AUTHENTICATIONFAILED] Authentication failed" "... with a wrong password: NO [AUTHENTICATIONFAILED]"
l 3 | grep -q '\[AUTHENTICATIONFAILED\]'; ok $? "imaplib AUTHENTICATE PLAIN with a wrong password: [AUTHENTICATIONFAILED]"
l 4 | grep -q '\[AUTHENTICATIONFAILED\]'; ok $? "imaplib LOGIN with a wrong password: [AUTHENTICATIONFAILED]"
l 5 | grep -q '\[AUTHENTICATIONFAILED\]'; ok $? "LOGIN of an unknown user: [AUTHENTICATIONFAILED] too"
is "$(l 6)" OK "... and a right one after three failures still logs in"

if command -v gsasl >/dev/null; then
	scram() {
		imap '
import subprocess
login, password = sys.argv[1], sys.argv[2]
r = Raw()
client = subprocess.Popen(["gsasl", "--client", "--no-cb", "--mechanism", "SCRAM-SHA-256",
    "--authentication-id", login, "--password", password],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
def client_output():
    while True:
        line = client.stdout.readline()
        if not line:
            return None
        if line.startswith("Output from client:"):
            return client.stdout.readline().strip()
r.send("a AUTHENTICATE SCRAM-SHA-256\r\n")
final = "no answer"
while True:
    answer = r.line()
    if answer is None or not answer.startswith("+"):
        final = answer
        break
    if answer[2:]:
        client.stdin.write(answer[2:] + "\n")
        client.stdin.flush()
    message = client_output()
    if message is None:
        break
    r.send(message + "\r\n")
client.kill()
client.wait(timeout=10)
show(final.split(" [")[0] if final.startswith("a OK") else final)
' "$@"
	}
	is "$(scram bob@example.org pw)" "a OK" "AUTHENTICATE SCRAM-SHA-256 with gsasl: logged in, the server signature checked by gsasl"
	is "$(scram bob@example.org nope)" "a NO [AUTHENTICATIONFAILED] Authentication failed" "... with a wrong password: NO [AUTHENTICATIONFAILED]"
else
	ok 1 "gsasl missing (Debian's gsasl package; scripts/deps installs it)"
fi

# ---- SELECT and EXAMINE ----
out=$(imap '
m = login()
m.mark()
typ, dat = m.select("INBOX")
w = m.since()
show(dat[0].decode())
show(int(m.untagged_responses["UIDVALIDITY"][0]) == int(open(BOBDIR + "/mail-uidlist").read().split()[2]))
show(m.untagged_responses["UIDNEXT"][0].decode())
show([x for x in w if "PERMANENTFLAGS" in x][0])
show(w[-1].split(" ", 1)[1])
show([x for x in w if x.startswith("* FLAGS")][0])
m.close()
m.mark()
typ, dat = m.select("INBOX", readonly=True)
w = m.since()
show(dat[0].decode(), w[-1].split(" ", 1)[1])
m.logout()
')
is "$(l 1)" 3 "SELECT INBOX: 3 EXISTS"
is "$(l 2)" True "... UIDVALIDITY, as in mail-uidlist"
is "$(l 3)" 4 "... UIDNEXT 4"
is "$(l 4)" '* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted' "... PERMANENTFLAGS with \\*"
is "$(l 5)" 'OK [READ-WRITE] Selected' "... OK [READ-WRITE]"
is "$(l 6)" '* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)' "... FLAGS"
is "$(l 7)" '3 OK [READ-ONLY] Examined' "EXAMINE: 3 EXISTS, OK [READ-ONLY]"

# ---- FETCH ----
out=$(imap '
m = login()
m.select("INBOX")
want = stored()
typ, dat = m.fetch("1:*", "(BODY.PEEK[] RFC822.SIZE FLAGS)")
bodies = [d[1] for d in dat if isinstance(d, tuple)]
sizes = [int(re.search(rb"RFC822.SIZE (\d+)", d).group(1)) for d in m.fetch("1:*", "(RFC822.SIZE)")[1]]
show(sorted(bodies) == sorted(want.values()), len(bodies))
show([len(b) for b in bodies] == sizes)
show(all(flags(d) == "" for d in m.fetch("1:*", "(FLAGS)")[1]))
show(len(os.listdir(BOBDIR + "/cur")), [n for n in os.listdir(BOBDIR + "/cur") if n.endswith("S")])
typ, dat = m.fetch("1", "(BODY[])")
show(flags(dat[-1] if isinstance(dat[-1], bytes) else dat[0][0]))
show(flags(m.fetch("1", "(FLAGS)")[1][0]), len([n for n in os.listdir(BOBDIR + "/cur") if re.search(r":2,[A-Z]*S", n)]))
body1 = bodies[0]
head, text = body1.split(b"\r\n\r\n", 1)
it = literals(m.fetch("1", "(BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY.PEEK[]<0.10> BODY.PEEK[]<10.5>)")[1])
show(sorted(it))
show(it["BODY[HEADER]"] == head + b"\r\n\r\n", it["BODY[TEXT]"] == text)
show(it["BODY[HEADER.FIELDS (SUBJECT FROM)]"].replace(b"\r\n", b"|").decode())
show(it["BODY[]<0>"] == body1[:10], it["BODY[]<10>"] == body1[10:15])
typ, dat = m.fetch("2", "(BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[2.MIME] BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[1.MIME])")
it = literals(dat)
show(it["BODY[1]"].replace(b"\r\n", b"|").decode())
show(it["BODY[2]"].decode())
show(it["BODY[2.MIME]"].replace(b"\r\n", b"|").decode())
show(it["BINARY[2]"] == bytes(range(10)), re.search(rb"BINARY.SIZE\[2\] (\d+)", b"".join(d if isinstance(d, bytes) else d[0] for d in dat)).group(1).decode())
show(flags(m.fetch("2", "(FLAGS)")[1][0]) == "")
for i in (1, 2, 3):
    show(m.fetch(str(i), "(ENVELOPE)")[1][0].decode())
for i in (1, 2):
    show(m.fetch(str(i), "(BODYSTRUCTURE)")[1][0].decode())
t = imaplib.Internaldate2tuple(m.fetch("3", "(INTERNALDATE)")[1][0])
show(abs(time.mktime(t) - os.stat([os.path.join(BOBDIR, "cur", n) for n in os.listdir(BOBDIR + "/cur") if b"Subject: three" in open(os.path.join(BOBDIR, "cur", n), "rb").read()][0]).st_mtime) < 5)
m.logout()
')
is "$(l 1)" "True 3" "FETCH 1:* BODY.PEEK[]: each message byte for byte as stored, with CR LF"
is "$(l 2)" True "... RFC822.SIZE is the length of BODY[]"
is "$(l 3)" True "... BODY.PEEK sets no \\Seen"
is "$(l 4)" "3 []" "... and on disk no S flag (the messages were moved to cur/ by SELECT)"
is "$(l 5)" '\Seen' "FETCH BODY[] sets \\Seen and says so in the same FETCH"
is "$(l 6)" '\Seen 1' "... it stays, and the file's name in cur/ has S"
is "$(l 7)" "['BODY[HEADER.FIELDS (SUBJECT FROM)]', 'BODY[HEADER]', 'BODY[TEXT]', 'BODY[]<0>', 'BODY[]<10>']" \
	"FETCH HEADER, TEXT, HEADER.FIELDS, partials: the items named as asked"
is "$(l 8)" "True True" "... BODY[HEADER] is the header and the empty line, BODY[TEXT] the rest"
is "$(l 9)" "From: Alice <alice@remote.test>|Subject: one||" \
	"... BODY[HEADER.FIELDS (SUBJECT FROM)]: those two fields and the empty line"
is "$(l 10)" "True True" "... BODY[]<0.10> and BODY[]<10.5>: the octets asked for"
is "$(l 11)" "Hallo Bob, schöne Grüße.|" "multipart: BODY[1] is the text part"
is "$(l 12)" "AAECAwQFBgcICQ==" "... BODY[2] the attachment as sent, base64"
is "$(l 13)" 'Content-Type: application/octet-stream; name="data.bin"|Content-Transfer-Encoding: base64|Content-Disposition: attachment; filename="data.bin"||' \
	"... BODY[2.MIME] its header"
is "$(l 14)" "True 10" "... BINARY[2] decodes the base64 to the 10 octets, BINARY.SIZE[2] 10"
is "$(l 15)" True "... BODY.PEEK and BINARY.PEEK left the message unseen"
is "$(l 16)" '1 (ENVELOPE ("Mon, 1 Jan 2024 10:00:00 +0000" "one" (("Alice" NIL "alice" "remote.test")) (("Alice" NIL "alice" "remote.test")) (("Alice" NIL "alice" "remote.test")) ((NIL NIL "bob" "example.org")) NIL NIL NIL "<one@remote.test>"))' \
	"ENVELOPE: date, subject, from, sender and reply-to from From, to, message-id"
is "$(l 17)" '2 (ENVELOPE ("Tue, 2 Jan 2024 11:00:00 +0100" "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= with attachment" (("=?UTF-8?Q?J=C3=BCrgen?=" NIL "juergen" "remote.test")) (("=?UTF-8?Q?J=C3=BCrgen?=" NIL "juergen" "remote.test")) (("=?UTF-8?Q?J=C3=BCrgen?=" NIL "juergen" "remote.test")) (("Bob" NIL "bob" "example.org")(NIL NIL "carol" "example.org")) ((NIL NIL "dave" "example.org")) NIL NIL "<multi@remote.test>"))' \
	"... two To addresses, a Cc, encoded words left as they are"
is "$(l 18)" '3 (ENVELOPE (NIL "three" (("Carol" NIL "carol" "remote.test")) (("Carol" NIL "carol" "remote.test")) (("Carol" NIL "carol" "remote.test")) ((NIL NIL "bob" "example.org")) NIL NIL NIL "<three@remote.test>"))' \
	"... no Date: NIL"
is "$(l 19)" '1 (BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 25 2 NIL NIL NIL NIL))' \
	"BODYSTRUCTURE of a plain message: text/plain, us-ascii by default, 25 octets, 2 lines"
is "$(l 20)" '2 (BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 29 1 NIL NIL NIL NIL)("application" "octet-stream" ("name" "data.bin") NIL NIL "base64" 16 NIL ("attachment" ("filename" "data.bin")) NIL NIL) "mixed" ("boundary" "XYZ") NIL NIL NIL))' \
	"... of the multipart: two parts with their sizes, the disposition, the boundary"
is "$(l 21)" True "INTERNALDATE is the delivery time"

# ---- STORE ----
out=$(imap '
m = login()
m.select("INBOX")
show(flags(m.store("1", "+FLAGS", "(\\Flagged $Work)")[1][0]))
show(flags(m.store("1", "-FLAGS", "(\\Flagged)")[1][0]))
m.mark()
typ, dat = m.store("1", "FLAGS.SILENT", "(\\Seen \\Answered $Done)")
show(typ, [w for w in m.since() if "FETCH" in w])
show(flags(m.fetch("1", "(FLAGS)")[1][0]))
name = [n for n in os.listdir(BOBDIR + "/cur") if "Subject: one" in open(os.path.join(BOBDIR, "cur", n)).read()][0]
info = name.split(":2,")[1]
show("R" in info and "S" in info and any(c.islower() for c in info))
show("$Done" in open(BOBDIR + "/mail-keywords").read())
m.mark()
m.close()
m.select("INBOX")
show([w for w in m.since() if w.startswith("* FLAGS")][0])
show(m.uid("FETCH", "2", "(FLAGS)")[1][0].decode())
typ, dat = m.uid("STORE", "3", "+FLAGS", "(\\Flagged)")
show(dat[0].decode())
show(m.store("2:3", "FLAGS", "()")[0])
m.mark()
m.select("INBOX", readonly=True)
show(err(m.store, "1", "+FLAGS", "(\\Deleted)"))
m.logout()
')
is "$(l 1)" '$Work \Flagged \Seen' "STORE +FLAGS (\\Flagged \$Work): the keyword and the flag are set"
is "$(l 2)" '$Work \Seen' "STORE -FLAGS (\\Flagged)"
is "$(l 3)" "OK []" "STORE FLAGS.SILENT: no FETCH response"
is "$(l 4)" '$Done \Answered \Seen' "... the flags replaced, keywords too"
is "$(l 5)" True "... the file's name has R, S and a keyword letter"
is "$(l 6)" True "... whose name is in mail-keywords"
l 7 | grep -q '^\* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft.* \$Done'; ok $? "SELECT announces the keywords in FLAGS"
is "$(l 8)" '2 (UID 2 FLAGS ())' "UID FETCH 2 (FLAGS)"
is "$(l 9)" '3 (UID 3 FLAGS (\Flagged))' "UID STORE 3 +FLAGS: the FETCH has the UID"
is "$(l 10)" OK "STORE 2:3 FLAGS ()"
l 11 | grep -q 'NO.*\[READ-ONLY\]'; ok $? "STORE in an EXAMINEd mailbox: NO [READ-ONLY]"

# ---- SEARCH ----
out=$(imap '
m = login()
m.select("INBOX")
def s(*a):
    try:
        return m.search(None, *a)[1][0].decode()
    except imaplib.IMAP4.error as e:
        return str(e)
show(s("ALL"))
show(s("UNSEEN"))
def j(*v):
    show("/".join(v))
j(s("SEEN"), s("KEYWORD", "$Done"), s("ANSWERED"), s("UNFLAGGED"), s("FLAGGED"))
j(s("SUBJECT", "one"), s("SUBJECT", "ATTACHMENT"), s("FROM", "alice"), s("FROM", "carol@remote.test"), s("TO", "carol@example.org"))
j(s("BODY", "needle"), s("TEXT", "needle"), s("TEXT", "one@remote.test"), s("BODY", "one@remote.test"))
j(s("LARGER", "3000"), s("SMALLER", "3000"))
j(s("UID", "2:*"), s("2:3"), s("UID", "3:2"), s("1,3"), s("*"))
j(s("NOT", "SUBJECT", "one"), s("OR", "SUBJECT", "one", "BODY", "needle"), s("NOT", "OR", "SUBJECT", "one", "BODY", "needle"))
j(s("HEADER", "Message-ID", "<multi@remote.test>"), s("SENTBEFORE", "2-Jan-2024"), s("SENTON", "2-Jan-2024"))
m.literal = "schöne".encode()
show(m.search("UTF-8", "BODY")[1][0].decode())
m.literal = "Grüße".encode()
show(m.search("UTF-8", "SUBJECT")[1][0].decode())
m.literal = "Jürgen".encode()
show(m.search("UTF-8", "FROM")[1][0].decode())
show(err(m.search, "ISO-8859-1", "SUBJECT", "one"))
show(s("CHARSET", "US-ASCII", "SUBJECT", "three"))
show(m.uid("SEARCH", "UNSEEN")[1][0].decode())
m.mark()
m.search(None, "RETURN", "(MIN MAX COUNT ALL)", "ALL")
show(m.since()[0])
m.mark()
m.uid("SEARCH", "RETURN", "(COUNT)", "UNSEEN")
show(m.since()[0])
m.mark()
m.search(None, "RETURN", "()", "SUBJECT", "nothing-matches")
show(m.since()[0])
m.mark()
m.search(None, "RETURN", "(MIN MAX)", "UNSEEN")
show(m.since()[0])
m.logout()
')
is "$(l 1)" "1 2 3" "SEARCH ALL"
is "$(l 2)" "2 3" "SEARCH UNSEEN"
is "$(l 3)" "1/1/1/1 2 3/" "SEARCH SEEN, KEYWORD \$Done, ANSWERED, UNFLAGGED, FLAGGED"
is "$(l 4)" "1/2/1/3/2" "SEARCH SUBJECT, FROM, TO (substrings, any case)"
is "$(l 5)" "3/3/1/" "SEARCH BODY and TEXT: TEXT sees the header, BODY does not"
is "$(l 6)" "3/1 2" "SEARCH LARGER 3000, SMALLER 3000"
is "$(l 7)" "2 3/2 3/2 3/1 3/3" "SEARCH UID 2:*, 2:3, UID 3:2, 1,3, *"
is "$(l 8)" "2 3/1 3/2" "SEARCH NOT, OR, NOT OR"
is "$(l 9)" "2/1/2" "SEARCH HEADER Message-ID, SENTBEFORE, SENTON"
is "$(l 10)" 2 "SEARCH CHARSET UTF-8 BODY with a literal: schöne, in an 8bit part"
is "$(l 11)" 2 "SEARCH CHARSET UTF-8 SUBJECT Grüße: the encoded words decoded"
is "$(l 12)" 2 "SEARCH CHARSET UTF-8 FROM Jürgen: the display name decoded"
l 13 | grep -q 'NO.*\[BADCHARSET'; ok $? "SEARCH CHARSET ISO-8859-1: NO [BADCHARSET]"
is "$(l 14)" 3 "SEARCH CHARSET US-ASCII"
is "$(l 15)" "2 3" "UID SEARCH UNSEEN"
is "$(l 16)" '* ESEARCH (TAG "'"$(l 16 | sed 's/.*TAG "\([^"]*\)".*/\1/')"'") MIN 1 MAX 3 COUNT 3 ALL 1:3' \
	"SEARCH RETURN (MIN MAX COUNT ALL): ESEARCH with the tag"
l 17 | grep -q '^\* ESEARCH (TAG "[^"]*") UID COUNT 2$'; ok $? "UID SEARCH RETURN (COUNT): ESEARCH UID COUNT 2"
l 18 | grep -q '^\* ESEARCH (TAG "[^"]*")$'; ok $? "SEARCH RETURN () with no match: ESEARCH without ALL"
l 19 | grep -q '^\* ESEARCH (TAG "[^"]*") MIN 2 MAX 3$'; ok $? "SEARCH RETURN (MIN MAX) UNSEEN"

# ---- COPY, MOVE, EXPUNGE, UIDs ----
out=$(imap '
m = login()
show(m.create("Work")[0])
m.select("INBOX")
typ, dat = m.copy("1:3", "Work")
show(m.tagged())
show(m.status("Work", "(UIDVALIDITY)")[1][0].decode())
show(err(m.copy, "1", "Nonesuch"))
show(m.select("Work")[1][0].decode())
show(flags(m.fetch("1", "(FLAGS)")[1][0]))
m.mark()
typ, dat = m.uid("MOVE", "3", "Trash")
show("|".join(m.since()[:-1]), typ)
show(m.store("1", "+FLAGS.SILENT", "(\\Deleted)")[0])
m.mark()
typ, dat = m.expunge()
show("|".join(m.since()))
show(m.search(None, "ALL")[1][0].decode(), m.uid("SEARCH", "ALL")[1][0].decode())
m.close()
m.select("INBOX")
m.copy("1", "Work")
m.select("Work")
show(m.uid("SEARCH", "ALL")[1][0].decode())
m.store("1:2", "+FLAGS.SILENT", "(\\Deleted)")
m.mark()
m.uid("EXPUNGE", "4")
show("|".join(m.since()))
show(m.uid("SEARCH", "ALL")[1][0].decode(), m.uid("SEARCH", "DELETED")[1][0].decode())
m.close()
m.select("Trash")
show(m.uid("SEARCH", "ALL")[1][0].decode())
m.logout()
')
is "$(l 1)" OK "CREATE Work"
is "$(l 2)" "OK [COPYUID $(l 3 | sed 's/.*UIDVALIDITY \([0-9]*\).*/\1/') 1:3 1:3] Copy completed" "COPY 1:3 Work: OK [COPYUID validity 1:3 1:3]"
l 3 | grep -q '^"Work" (UIDVALIDITY [0-9][0-9]*)$'; ok $? "... STATUS Work UIDVALIDITY"
l 4 | grep -q 'NO.*\[TRYCREATE\]'; ok $? "COPY to a missing mailbox: NO [TRYCREATE]"
is "$(l 5)" 3 "SELECT Work: the 3 copies"
is "$(l 6)" '$Done \Answered \Seen' "... with their flags and keywords"
l 7 | grep -q '^\* OK \[COPYUID [0-9][0-9]* 3 1\] Moved|\* 3 EXPUNGE OK$'
ok $? "UID MOVE 3 Trash: COPYUID in an untagged OK, then EXPUNGE"
is "$(l 8)" OK "STORE 1 +FLAGS.SILENT (\\Deleted)"
l 9 | grep -q '^\* 1 EXPUNGE|[^ ]* OK'; ok $? "EXPUNGE: * 1 EXPUNGE"
is "$(l 10)" "1 2" "... one message left, UID 2"
is "$(l 11)" "2 4" "COPY again: UID 4, not a reused 1 or 3"
l 12 | grep -q '^\* 2 EXPUNGE|[^ ]* OK'; ok $? "UID EXPUNGE 4 with two \\Deleted: only UID 4 expunged"
is "$(l 13)" "2 2" "... UID 2 stays, still \\Deleted"
is "$(l 14)" 1 "the moved message is in Trash"

# ---- APPEND ----
out=$(imap '
m = login()
msg = b"From: Bob <bob@example.org>\r\nSubject: appended\r\n\r\nhello\r\n\r\nsecond paragraph\r\n"
date = "\"15-Mar-2023 08:30:00 +0200\""
typ, dat = m.append("Work", "(\\Flagged $Draft1)", date, msg)
show(typ, m.tagged())
mo = re.search(r"APPENDUID (\d+) (\d+)", m.tagged())
show(mo.group(1) == m.status("Work", "(UIDVALIDITY)")[1][0].decode().split()[-1].rstrip(")"))
m.select("Work")
uid = mo.group(2)
typ, dat = m.uid("FETCH", uid, "(BODY.PEEK[])")
typ, dat2 = m.uid("FETCH", uid, "(FLAGS INTERNALDATE RFC822.SIZE)")
show(dat[0][1] == msg, flags(dat2[0]))
t = imaplib.Internaldate2tuple(dat2[0])
import calendar
show(time.mktime(t) == calendar.timegm((2023, 3, 15, 6, 30, 0)), int(re.search(rb"RFC822.SIZE (\d+)", dat2[0]).group(1)) == len(msg))
show(err(m.append, "Nonesuch", None, None, msg))
show(m.append("INBOX", None, None, b"Subject: plain\r\n\r\nx\r\n")[0])
show(err(m.append, "Work", "(\\Bogus)", None, msg))
m.logout()
')
is "$(l 1)" "OK OK [APPENDUID $(l 1 | sed -n 's/.*APPENDUID \([0-9]*\) .*/\1/p') 5] Append completed" \
	"APPEND with flags and a date: OK [APPENDUID validity 5]"
is "$(l 2)" True "... the validity is the folder's"
is "$(l 3)" 'True $Draft1 \Flagged' "... fetched back identical, with its flags"
is "$(l 4)" "True True" "... INTERNALDATE the date given, RFC822.SIZE its length"
l 5 | grep -q 'NO.*\[TRYCREATE\]'; ok $? "APPEND to a missing mailbox: NO [TRYCREATE]"
is "$(l 6)" OK "APPEND without flags or date"
l 7 | grep -q 'BAD'; ok $? "APPEND with an unknown system flag: BAD"

# APPENDLIMIT: a server whose configuration caps messages at 4000 octets
sed 's/^max_message_size.*//' "$tmp/mail.conf" >"$tmp/small.conf"
echo "max_message_size = 4000" >>"$tmp/small.conf"
start_tcpserver "$MAIL_IMAPD" --allow-plaintext --config "$tmp/small.conf"
out=$(imap '
m = login()
show("APPENDLIMIT=4000" in m.capability()[1][0].decode().split())
m.mark()
show(err(m.append, "INBOX", None, None, b"Subject: big\r\n\r\n" + b"x" * 5000 + b"\r\n"))
show([w for w in m.since() if w.startswith("+")])
show(m.noop()[0])
r = Raw()
r.login()
big = b"Subject: big\r\n\r\n" + b"t9 DELETE Work\r\n" * 400
r.send(b"a APPEND INBOX {%d+}\r\n" % len(big) + big + b"\r\n")
show(r.until("a")[-1])
show("|".join(r.cmd("NOOP")))
show(m.status("Work", "(MESSAGES)")[0])
')
is "$(l 1)" True "CAPABILITY has APPENDLIMIT=4000 from max_message_size"
l 2 | grep -q 'NO.*\[TOOBIG\]'; ok $? "APPEND of 5000 octets: NO [TOOBIG]"
is "$(l 3)" "[]" "... refused before the \"+\", the literal never sent"
is "$(l 4)" OK "... and the session goes on"
is "$(l 5)" "a NO [TOOBIG] The message is larger than APPENDLIMIT" "APPEND {6416+} too large: NO [TOOBIG]"
is "$(l 6)" "t2 OK NOOP completed" "... its octets were read and dropped, never run as commands"
is "$(l 7)" OK "... Work still exists"
port=$port_main

out=$(imap '
r = Raw()
r.login()
msg = b"Subject: literal plus\r\n\r\nsent without waiting\r\n"
r.send(b"a APPEND INBOX (\\Seen) {%d+}\r\n" % len(msg) + msg + b"\r\nb NOOP\r\n")
got = r.until("b")
show([g for g in got if g.startswith("+")], got[0].split(" [")[0], got[-1])
uid = re.search(r"APPENDUID \d+ (\d+)", got[0]).group(1)
r.cmd("SELECT INBOX")
show(r.cmd("UID FETCH %s BODY.PEEK[]" % uid)[0] == "* 5 FETCH (UID %s BODY[] {%d}\r\n" % (uid, len(msg)) + msg.decode() + ")")
')
is "$(l 1)" "[] a OK b OK NOOP completed" "APPEND with LITERAL+ {n+}: no continuation, the next command in the same packet runs"
is "$(l 2)" True "... fetched back identical"

# ---- folders ----
out=$(imap '
m = login()
for n in ("Projects", "Projects.Alpha", "Projects.Beta", "Deep.Er.Est"):
    show(n, m.create(n)[0])
show(err(m.create, "Projects"), err(m.create, "INBOX"))
def names(pat, ref=""):
    typ, dat = m.list("\"%s\"" % ref, "\"%s\"" % pat)
    out = []
    for d in dat:
        if d is None:
            continue
        mo = re.match(rb"\(([^)]*)\) \"\.\" (.*)", d)
        out.append(mo.group(2).decode().strip("\"") + ("+" if b"HasChildren" in mo.group(1) else "") + ("!" if b"NonExistent" in mo.group(1) or b"Noselect" in mo.group(1) else ""))
    return " ".join(sorted(out))
show(names("%"))
show(names("*"))
show(names("Projects.%"), names("%", "Projects."), names("*.Beta"), names("inbox"))
show(names("Deep.%"))
show(m.rename("Projects", "Ventures")[0], names("Ventures*"), names("Projects*"))
show(os.path.isdir(BOBDIR + "/.Ventures.Alpha/cur"), os.path.exists(BOBDIR + "/.Projects.Alpha"))
show(m.delete("Ventures.Beta")[0], names("Ventures*"))
show(err(m.delete, "INBOX"), err(m.delete, "Nonesuch"), err(m.rename, "Nonesuch", "X"), err(m.rename, "Work", "Trash"))
show(m.subscribe("Work")[0])
typ, dat = m.lsub("\"\"", "*")
show(" ".join(sorted(d.decode().split(" ", 2)[2].strip("\"") for d in dat)))
m.unsubscribe("Work")
typ, dat = m.lsub("\"\"", "W*")
show(dat)
m.mark()
m._simple_command("LIST", "\"\"", "\"*\"", "RETURN", "(SPECIAL-USE STATUS (MESSAGES))")
w = m.since()
show("|".join(x for x in w if "Trash" in x or "Sent" in x or "Work" in x))
m.mark()
m._simple_command("LIST", "(SPECIAL-USE)", "\"\"", "\"*\"")
show("|".join(sorted(x.split(" \".\" ")[1] for x in m.since()[:-1])))
m.mark()
m._simple_command("LIST", "(SUBSCRIBED)", "\"\"", "\"*\"", "RETURN", "(CHILDREN)")
show(len([x for x in m.since() if x.startswith("* LIST") and "\\Subscribed" in x]), len(m.since()) - 1)
sizes = [int(x) for x in re.findall(rb"RFC822.SIZE (\d+)", b" ".join(d for d in (m.select("INBOX", readonly=True) and m.fetch("1:*", "(RFC822.SIZE)")[1])))]
typ, dat = m.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE)")
show(dat[0].decode().replace(m.untagged_responses.get("UIDVALIDITY", [b""])[0].decode() or "x", "V"), sum(sizes), len(sizes))
show(m.status("Trash", "(MESSAGES UNSEEN RECENT DELETED)")[1][0].decode())
show(err(m.status, "Nonesuch", "(MESSAGES)"))
show(m.namespace()[1][0].decode())
m.mark()
typ, dat = m._simple_command("ID", "(\"name\" \"imaplib\" \"version\" \"3\")")
show(typ, [x for x in m.since() if x.startswith("* ID")][0].split(" \"version\"")[0])
show(m._simple_command("ID", "NIL")[0])
m.logout()
')
is "$(l 1)$(l 2)$(l 3)$(l 4)" "Projects OKProjects.Alpha OKProjects.Beta OKDeep.Er.Est OK" "CREATE, with children, and a name three deep"
l 5 | grep -q 'ALREADYEXISTS.*ALREADYEXISTS'; ok $? "CREATE of an existing name, and of INBOX: NO [ALREADYEXISTS]"
# (+ \HasChildren, ! \Noselect: Maildir++ has no folder for Deep or Deep.Er)
is "$(l 6)" "Archive Deep+! Drafts INBOX Junk Projects+ Sent Trash Work" "LIST \"\" %: the top level, \\HasChildren on parents"
is "$(l 7)" "Archive Deep+! Deep.Er+! Deep.Er.Est Drafts INBOX Junk Projects+ Projects.Alpha Projects.Beta Sent Trash Work" \
	"LIST \"\" *: everything, the parents of Deep.Er.Est \\Noselect \\HasChildren"
is "$(l 8)" "Projects.Alpha Projects.Beta Projects.Alpha Projects.Beta Projects.Beta INBOX" \
	"LIST with Projects.%, a reference, *.Beta, and inbox in any case"
is "$(l 9)" "Deep.Er+!" "LIST Deep.%: one level"
is "$(l 10)" "OK Ventures+ Ventures.Alpha Ventures.Beta " "RENAME Projects Ventures: the children come along"
is "$(l 11)" "True False" "... on disk too"
is "$(l 12)" "OK Ventures+ Ventures.Alpha" "DELETE Ventures.Beta"
l 13 | grep -q 'NO.*NO.*NONEXISTENT.*NO.*NONEXISTENT.*NO.*ALREADYEXISTS'; ok $? "DELETE INBOX, DELETE and RENAME of a missing folder, RENAME onto an existing one: NO"
is "$(l 14)" OK "SUBSCRIBE Work"
is "$(l 15)" "Archive Drafts Junk Sent Trash Work" "LSUB: the special-use folders (subscribed at creation) and Work"
is "$(l 16)" "[None]" "UNSUBSCRIBE Work: LSUB W* empty"
is "$(l 17)" '* LIST (\HasNoChildren \Sent) "." "Sent"|* STATUS "Sent" (MESSAGES 0)|* LIST (\HasNoChildren \Trash) "." "Trash"|* STATUS "Trash" (MESSAGES 1)|* LIST (\HasNoChildren) "." "Work"|* STATUS "Work" (MESSAGES 1)' \
	"LIST RETURN (SPECIAL-USE STATUS (MESSAGES)): attributes, each LIST followed by its STATUS"
is "$(l 18)" '"Archive"|"Drafts"|"Junk"|"Sent"|"Trash"' "LIST (SPECIAL-USE): the five special-use folders"
is "$(l 19)" "5 5" "LIST (SUBSCRIBED): the five subscribed, marked \\Subscribed"
is "$(l 20)" "\"INBOX\" (MESSAGES 5 UIDNEXT 6 UIDVALIDITY V UNSEEN 3 SIZE $(l 20 | sed 's/.*SIZE \([0-9]*\)).*/\1/')) $(l 20 | sed 's/.*SIZE \([0-9]*\)).*/\1/') 5" \
	"STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE): SIZE the sum of RFC822.SIZE"
is "$(l 21)" "\"Trash\" (MESSAGES 1 UNSEEN 1 RECENT 0 DELETED 0)" "STATUS Trash (MESSAGES UNSEEN RECENT DELETED)"
l 22 | grep -q 'NO.*NONEXISTENT'; ok $? "STATUS of a missing folder: NO [NONEXISTENT]"
is "$(l 23)" '(("" ".")) NIL NIL' "NAMESPACE: personal, \".\" the delimiter"
is "$(l 24)" 'OK * ID ("name" "mail-toolkit"' "ID: the server names itself"
is "$(l 25)" OK "ID NIL"

# carol: RENAME INBOX moves the messages and leaves INBOX empty
out=$(imap '
m = login("carol@example.org", "pw2")
show(m.rename("INBOX", "Old")[0])
show(m.status("INBOX", "(MESSAGES)")[1][0].decode(), m.status("Old", "(MESSAGES)")[1][0].decode())
show(m.select("Old")[1][0].decode(), m.select("INBOX")[1][0].decode())
')
is "$(echo "$out" | tr '\n' '|')" "OK|\"INBOX\" (MESSAGES 0) \"Old\" (MESSAGES 2)|2 0|" "RENAME INBOX Old: the messages move, INBOX stays, empty"

# ---- IMAP4rev2 and UTF-8 names ----
out=$(imap '
r = Raw()
r.login()
show(r.cmd("ENABLE IMAP4rev2")[0])
show(r.cmd("CREATE \"Récap\"")[-1].split(" ", 1)[1])
show("|".join(unlit(x) for x in r.cmd("LIST \"\" \"R*\"")))
m = login()
typ, dat = m.list("", "R*")
show(dat[0].decode())
show(os.path.isdir(BOBDIR + "/.R&AOk-cap/cur"))
subprocess.run([STORE, "-f", "x@remote.test", "--maildir", BOBDIR, "--folder", "Récap"], input=b"Subject: recap\n\nr\n", check=True)
show(m.status("R&AOk-cap", "(MESSAGES)")[1][0].decode())
got = r.cmd("SELECT \"Récap\"")
show([unlit(g) for g in got if "EXISTS" in g or g.startswith("* LIST")], got[-1].split(" ", 1)[1])
show(r.cmd("SELECT \"R&AOk-cap\"")[-1].split(" ", 1)[1].split(" [")[0])
show("|".join(unlit(x) for x in r.cmd("STATUS \"Récap\" (MESSAGES)")))
')
is "$(l 1)" "* ENABLED IMAP4rev2" "ENABLE IMAP4rev2"
is "$(l 2)" "OK Created" "... CREATE \"Récap\" in UTF-8"
is "$(l 3)" '* LIST (\HasNoChildren) "." "Récap"|t4 OK List completed' "... LIST shows it in UTF-8"
is "$(l 4)" '(\HasNoChildren) "." "R&AOk-cap"' "an IMAP4rev1 session sees it in modified UTF-7"
is "$(l 5)" True "... a Maildir++ folder named in modified UTF-7 on disk"
is "$(l 6)" '"R&AOk-cap" (MESSAGES 1)' "mail-store --folder Récap delivers into the same folder"
is "$(l 7)" "['* 1 EXISTS', '* LIST () \".\" \"Récap\"'] OK [READ-WRITE] Selected" "SELECT \"Récap\" in IMAP4rev2: the message, and the LIST response rev2 wants"
is "$(l 8)" NO "... after ENABLE IMAP4rev2 the modified UTF-7 name is just another (missing) name"
is "$(l 9)" '* STATUS "Récap" (MESSAGES 1)|t7 OK Status completed' "STATUS in UTF-8"

# ---- IDLE ----
out=$(imap '
r = Raw()
r.login()
r.cmd("SELECT INBOX")
n = int([x for x in r.cmd("STATUS INBOX (MESSAGES)")[0].split()][-1].rstrip(")"))
r.send("i IDLE\r\n")
show(r.line())
start = time.time()
subprocess.run([STORE, "-f", "x@remote.test", "--maildir", BOBDIR], input=b"Subject: idle\n\nwoken\n", check=True)
got = []
until = time.time() + 3
while time.time() < until:
    l = r.line(until - time.time())
    if l is None:
        break
    got.append(l)
    if l.endswith(" EXISTS"):
        break
show(got[-1] if got else None, got[-1] == "* %d EXISTS" % (n + 1) if got else False, time.time() - start < 2.5)
# a flag changed by another session wakes the IDLE too
m = login()
m.select("INBOX")
m.store("1", "+FLAGS", "(\\Flagged)")
got = []
until = time.time() + 3
while time.time() < until:
    l = r.line(until - time.time())
    if l is None:
        break
    got.append(l)
    if "FETCH" in l:
        break
show([g for g in got if "FETCH" in g])
r.send("DONE\r\n")
show(r.until("i")[-1])
m.store("1", "-FLAGS", "(\\Flagged)")
')
is "$(l 1)" "+ idling" "IDLE: a continuation"
is "$(l 2)" "* 6 EXISTS True True" "... a delivery by mail-store during IDLE: * 6 EXISTS within a second or two"
is "$(l 3)" "['* 1 FETCH (UID 1 FLAGS (\\\\Answered \\\\Flagged \\\\Seen \$Done))']" "... a flag set by another session: * 1 FETCH (UID FLAGS)"
is "$(l 4)" "i OK Idle completed" "... DONE ends it"

# ---- two sessions in one folder ----
out=$(imap '
a = login(); b = login()
a.create("Shared")
a.select("INBOX"); a.copy("1:3", "Shared")
a.select("Shared"); b.select("Shared")
before = b.uid("SEARCH", "ALL")[1][0].decode()
a.store("1", "+FLAGS", "(\\Flagged)")
b.mark(); b.noop()
show([w for w in b.since() if "FETCH" in w])
a.store("2", "+FLAGS.SILENT", "(\\Deleted)"); a.expunge()
b.mark(); b.fetch("1:*", "(UID)")
show([w for w in b.since() if w.endswith(" EXPUNGE")], len([w for w in b.since() if "FETCH" in w]))
b.mark()
typ, dat = b.fetch("2", "(BODY.PEEK[])")
show(typ, [w for w in b.since() if w.endswith(" EXPUNGE")], b.tagged().split("]")[0])
b.mark(); b.noop()
show([w for w in b.since() if w.endswith(" EXPUNGE") or w.endswith(" EXISTS")])
a.store("2", "+FLAGS.SILENT", "(\\Deleted)"); a.expunge()
b.mark(); b.noop()
show([w for w in b.since() if w.endswith(" EXPUNGE")])
c = login(); c.select("Shared")
show(before, c.uid("SEARCH", "ALL")[1][0].decode(), c.untagged_responses["UIDNEXT"][0].decode())
typ, dat = a.append("Shared", None, None, b"Subject: after\r\n\r\nx\r\n")
show(re.search(r"APPENDUID \d+ (\d+)", a.tagged()).group(1))
b.mark(); b.noop()
show([w for w in b.since() if "EXISTS" in w])
')
is "$(l 1)" "['* 1 FETCH (UID 1 FLAGS (\\\\Answered \\\\Flagged \\\\Seen \$Done))']" "two sessions: flags one sets appear in the other at NOOP as FETCH FLAGS"
is "$(l 2)" "[] 3" "... an expunge by one is not reported in the other during a FETCH"
is "$(l 3)" "NO [] NO [EXPUNGEISSUED" "... FETCH BODY[] of the message the other expunged: NO [EXPUNGEISSUED], no EXPUNGE"
is "$(l 4)" "['* 2 EXPUNGE']" "... at its NOOP, * 2 EXPUNGE"
is "$(l 5)" "['* 2 EXPUNGE']" "... a second expunge, the same"
is "$(l 6)" "1 2 3 1 4" "UIDs are the same in a new session; UIDNEXT stays past the expunged"
is "$(l 7)" 4 "... the next APPEND gets UID 4, not an expunged UID again"
is "$(l 8)" "['* 2 EXISTS']" "... and the other session learns of it at NOOP"

# a lost mail-uidlist: a new UIDVALIDITY (once the clock has moved past
# the old one, which is time-based)
out=$(imap '
m = login()
old = int(m.status("Shared", "(UIDVALIDITY)")[1][0].decode().split()[-1].rstrip(")"))
m.logout()
while time.time() < old + 1.2:
    time.sleep(0.05)
os.remove(BOBDIR + "/.Shared/mail-uidlist")
m = login()
m.select("Shared")
new = int(m.untagged_responses["UIDVALIDITY"][0])
show(new > old, m.uid("SEARCH", "ALL")[1][0].decode())
')
is "$(l 1)" "True 1 2" "mail-uidlist deleted: a new, greater UIDVALIDITY and UIDs afresh"

# a folder deleted and created again under the same name: its UIDs start
# again at 1, so its UIDVALIDITY must differ from the old one (RFC 9051
# 2.3.1.1), however soon that happens; three rounds, three values
out=$(imap '
m = login()
seen = []
for i in range(3):
    m.create("Again")
    m.append("Again", None, None, b"Subject: again\r\n\r\nx\r\n")
    seen.append(re.search(r"APPENDUID (\d+) (\d+)", m.tagged()).groups())
    m.delete("Again")
show(" ".join(u for v, u in seen), len(set(v for v, u in seen)))
')
is "$out" "1 1 1 3" "DELETE and CREATE of a name, three times: UID 1 each time, three different UIDVALIDITYs"

# ---- hostile input ----
find "$tmp" -type d | sort >"$tmp/dirs.before"
out=$(imap '
m = login()
for n in ("../x", "..", ".hidden", "a..b", "a/b", "x/../../y", "INBOX/../../z", "Work.", ".", ""):
    show(repr(n), "refused" if not err(m.create, "\"%s\"" % n).startswith("OK") else "CREATED")
r = Raw()
r.login()
for n in (b"a\x01b", b"a\x7fb", b"a\tb"):
    show(repr(n), "refused" if " OK " not in r.cmd(b"CREATE {%d+}\r\n" % len(n) + n)[-1] else "CREATED")
for c in ("SELECT \"../x\"", "RENAME Work \"../w\"", "RENAME Work \".hidden\"", "STATUS \"../x\" (MESSAGES)", "DELETE \"../bob\""):
    show(c, "refused" if " OK " not in r.cmd(c)[-1] else "DONE")
msg = b"Subject: x\r\n\r\nx\r\n"
show("refused" if " OK " not in r.cmd(b"APPEND \"../x\" {%d+}\r\n" % len(msg) + msg)[-1] else "APPENDED")
show(r.cmd("SUBSCRIBE \"../x\"")[-1])
')
find "$tmp" -type d | sort >"$tmp/dirs.after"
is "$(echo "$out" | sed '$d' | tr '\n' '|')" "'../x' refused|'..' refused|'.hidden' refused|'a..b' refused|'a/b' refused|'x/../../y' refused|'INBOX/../../z' refused|'Work.' refused|'.' refused|'' refused|b'a\\x01b' refused|b'a\\x7fb' refused|b'a\\tb' refused|SELECT \"../x\" refused|RENAME Work \"../w\" refused|RENAME Work \".hidden\" refused|STATUS \"../x\" (MESSAGES) refused|DELETE \"../bob\" refused|refused|" \
	"mailbox names ../x, .., .hidden, a..b, a/b, control characters, an existing name's trailing dot: refused by CREATE, SELECT, RENAME, STATUS, DELETE, APPEND"
is "$(echo "$out" | sed -n '$p')" "t11 NO [CANNOT] Bad mailbox name" "SUBSCRIBE \"../x\", a name no folder can have: NO [CANNOT] too"
diff "$tmp/dirs.before" "$tmp/dirs.after" >"$tmp/dirs.diff"
ok $? "... no directory created or removed anywhere"
sed 's/^/#   /' "$tmp/dirs.diff"

out=$(imap '
r = Raw()
r.send("a LOGIN {4294967295}\r\n")
got = r.line(5)
show(got.split(" ")[0:2] if got else got)
show(r.cmd("NOOP")[-1])
r.send("b LOGIN {99999999999999999999}\r\n")
got = r.line(5)
show(got.split(" ")[1] if got else got)
show(r.cmd("NOOP")[-1])
r.send("c NOOP " + "x" * 10000 + "\r\n")
got = r.line(5)
show(got.split(" ")[0:2] if got else got)
show(r.cmd("NOOP")[-1])
show(r.cmd("LOGIN bob@example.org pw")[-1].split(" [")[0])
r = Raw()
r.send("".join("x%d FROB\r\n" % i for i in range(25)))
got = []
while True:
    l = r.line(5)
    if l is None:
        break
    got.append(l)
show(len([g for g in got if " BAD " in g]), got[-1], r.eof)
')
is "$(l 1)" "['a', 'BAD']" "a literal {4294967295}: BAD, no continuation"
is "$(l 2)" "t1 OK NOOP completed" "... and the session goes on"
is "$(l 3)" "BAD" "a literal {99999999999999999999}: BAD"
is "$(l 4)" "t2 OK NOOP completed" "... and the session goes on"
l 5 | grep -q "BAD"; ok $? "a 10000-octet command line: BAD"
is "$(l 6)" "t3 OK NOOP completed" "... the rest of it is not run, the session goes on"
is "$(l 7)" "t4 OK" "... and can log in"
is "$(l 8)" "20 * BYE Too many errors True" "20 refused commands: * BYE, and the server hangs up"
stop_tcpserver

# ---- a root server gives way to the mailbox's owner ----
if [ "$(id -u)" -eq 0 ]; then
	davedir=$tmp/vmail/example.org/dave/Maildir
	chmod 711 "$tmp" "$tmp/vmail" "$tmp/vmail/example.org"
	chown -R nobody "$tmp/vmail/example.org/dave"
	out=$("$PYTHON3" - "$MAIL_IMAPD" "$MAIL_CONF" <<'PYEOF'
import os, socket, subprocess, sys
prog, conf = sys.argv[1], sys.argv[2]
a, b = socket.socketpair()
p = subprocess.Popen([prog, "--allow-plaintext"], stdin=b, stdout=b, stderr=subprocess.DEVNULL, env=dict(os.environ, MAIL_CONF=conf))
b.close()
f = a.makefile("rb")
f.readline()
a.sendall(b"a LOGIN dave@example.org pw4\r\n")
f.readline()
uid = [l.split()[1] for l in open("/proc/%d/status" % p.pid) if l.startswith("Uid:")][0]
a.sendall(b"b LOGOUT\r\n")
f.readline(); f.readline()
p.wait(timeout=10)
print(uid)
PYEOF
)
	is "$out" "$(id -u nobody)" "started as root, the session runs as the mailbox's owner once logged in"
	is "$(stat -c %U "$davedir/.Sent")" nobody "... and the special-use folders it makes are the owner's"

	# a new account, no Maildir yet, under root's directories and without
	# delivery_user: the session stays root (as a root runner's deliveries)
	# and makes the Maildir; before, it ran as nobody and could not
	echo pw6 | mu add gina@example.org --password-stdin >/dev/null
	start_tcpserver "$MAIL_IMAPD" --allow-plaintext
	out=$("$PYTHON3" -c '
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("gina@example.org", "pw6")
print(m.select("INBOX")[0], m.list()[0])
m.logout()' "$port" 2>&1)
	stop_tcpserver
	is "$out" "OK OK" "started as root, a new account's first login (no Maildir yet) opens INBOX"
	is "$(stat -c %U "$tmp/vmail/example.org/gina/Maildir/cur" 2>&1)" root "... the Maildir it made is root's, as a root runner's delivery would make it"
	chmod 700 "$tmp"
else
	ok 0 "# SKIP not root"
fi

done_testing
