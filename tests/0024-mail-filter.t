#!/bin/sh
# mail-filter against its contract (spec/mail-filter.md, issue 8): filter
# mode writes the message byte for byte plus its verdict fields (checked by
# a Python script that takes them out again), forged fields removed; bad
# and huge input in bounded time and memory; training from files, mbox and
# Maildir written by Python's mailbox module, plain directories and stdin,
# idempotent, with class switches and --untrain; the pipeline into
# mail-store's Junk folder; scored rules; a real clamd (Debian's, with an
# EICAR-only database built by sigtool) and the built-in malware checks.
. "${top_srcdir:-.}/tests/lib.sh"

MAIL_FILTER=$top_builddir/mail-filter
PY=$(python_with mailbox email zipfile) || PY=$PYTHON3
db=$tmp/db.lmdb
mf() { "$MAIL_FILTER" -d "$db" "$@"; }
# to_out COMMAND...: COMMAND with its stdout in $tmp/out (for expect_exit,
# whose own TAP line must not go there); to_null: the same into /dev/null
to_out() { "$@" >"$tmp/out"; }
to_null() { "$@" >/dev/null; }
# A sanitizer build's quarantine of freed blocks is not the program's memory.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
export ASAN_OPTIONS

# added.py IN OUT [end]: OUT must be IN plus exactly one block of the
# fields mail-filter adds (X-Spam-Flag only with Yes); with "end", the
# block stands at the end of the top header: after its last field, before
# the empty line or at the end of the message. Prints "same" or why not.
cat >"$tmp/added.py" <<'PY'
import re, sys
inp = open(sys.argv[1], "rb").read()
out = open(sys.argv[2], "rb").read()
block = re.compile(rb"(?:(?<=\n)|^)X-Spam-Score: (\d\.\d{6})(\r?\n)"
                   rb"X-Spam-Status: (Yes|No|Unsure), score=(\d\.\d{6})[^\r\n]*\2(?:\t[^\r\n]*\2)*"
                   rb"(X-Spam-Flag: YES\2)?X-Virus-Status: (Clean|Infected \([^\r\n]+\)|Unscanned \([^\r\n]+\))\2")
found = list(block.finditer(out))
if len(found) != 1:
    sys.exit(print(f"{len(found)} blocks of added fields") or 1)
m = found[0]
if m.group(1) != m.group(4):
    sys.exit(print("X-Spam-Score and score= differ") or 1)
if (m.group(3) == b"Yes") != (m.group(5) is not None):
    sys.exit(print("X-Spam-Flag: YES does not go with Yes") or 1)
rest = out[:m.start()] + out[m.end():]
if rest != inp:
    i = next((k for k in range(min(len(rest), len(inp))) if rest[k] != inp[k]), min(len(rest), len(inp)))
    sys.exit(print(f"without the added fields the output differs from the input at octet {i}"
                   f" ({len(rest)} vs {len(inp)} octets)") or 1)
if len(sys.argv) > 3:
    head, tail = out[:m.start()], out[m.end():]
    if re.search(rb"(?:^|\n)\r?\n", head):
        sys.exit(print("the fields were added after the empty line") or 1)
    if tail and not re.match(rb"\r?\n", tail):
        sys.exit(print("a header line follows the added fields: %r" % tail[:60]) or 1)
print("same")
PY
# filter_ok NAME IN [OPTIONS]: mail-filter OPTIONS <IN exits 0 within 60 s
# and under 200 MiB, and its output is IN plus the added fields (at the
# end of the header unless NAME says "anywhere")
filter_ok() {
	_name=$1 _in=$2
	shift 2
	rm -f "$tmp/rss"
	timeout 60 /usr/bin/time -f %M -o "$tmp/rss" "$MAIL_FILTER" -d "$db" "$@" <"$_in" >"$tmp/out" 2>"$tmp/stderr"
	_rc=$?
	_rss=$(tail -1 "$tmp/rss" 2>/dev/null)
	echo "# $_name: exit $_rc, peak RSS ${_rss:-?} KiB"
	is "$_rc" 0 "$_name: exit 0"
	[ "$_rc" -eq 0 ] || sed 's/^/#   /' "$tmp/stderr" | head -5
	check "$_name: under 200 MiB of memory" test "${_rss:-0}" -gt 0 -a "${_rss:-0}" -lt 204800
	case $_name in
	*anywhere*) is "$("$PYTHON3" "$tmp/added.py" "$_in" "$tmp/out")" same "$_name: the input plus the added fields" ;;
	*) is "$("$PYTHON3" "$tmp/added.py" "$_in" "$tmp/out" end)" same "$_name: the input plus the added fields at the end of the header" ;;
	esac
}
# field NAME FILE: the unfolded value of header field NAME, by Python's email
field() {
	"$PY" - "$@" <<'PY'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[2], "rb"), policy=email.policy.compat32)
v = m.get_all(sys.argv[1]) or []
print("\n".join(" ".join(str(x).split()) for x in v))
PY
}
# body_offset FILE: the octet after the empty line that ends the header
body_offset() {
	"$PYTHON3" -c 'import re, sys; d = open(sys.argv[1], "rb").read(); print(re.search(rb"\r?\n\r?\n", d).end())' "$1"
}

# ---- filter mode: byte for byte, forged fields removed ----
"$PYTHON3" - "$tmp/plain" <<'PY'
import sys
body = (b"first line\n.\n..dot\nFrom the start of a line\n>From quoted\n"
        b"a NUL \0 and a lone CR \r here\ntrailing spaces   \n\n\n"
        b"X-Spam-Flag: YES\nX-Virus-Status: Clean\n"
        + bytes(range(1, 256)) + b"\nno newline at the end")
open(sys.argv[1], "wb").write(b"From: alice@example.org\nTo: bob@example.org\n"
                              b"Subject: plain\nMessage-ID: <p1@example.org>\n\n" + body)
PY
filter_ok "LF message" "$tmp/plain"
off=$(body_offset "$tmp/plain")
off_out=$(body_offset "$tmp/out")
check "LF message: the body after the header is byte-exact (cmp)" \
	cmp "$tmp/out" "$tmp/plain" "$((off_out))" "$((off))"
is "$(field X-Spam-Status "$tmp/out")" "Unsure, score=0.500000" "empty database: Unsure, score=0.500000 and no points= or tests="
is "$(field X-Virus-Status "$tmp/out")" "Clean" "X-Virus-Status: Clean without clamd"
is "$(field X-Spam-Flag "$tmp/out")" "" "no X-Spam-Flag when not Yes"

tr -d '\r' <"$tmp/plain" | sed 's/$/\r/' | head -c -1 >"$tmp/crlf"
filter_ok "CR LF message" "$tmp/crlf"
check "CR LF message: the added fields end in CR LF" grep -q "$(printf '^X-Virus-Status: Clean\r$')" "$tmp/out"
check "CR LF message: the body is byte-exact" cmp "$tmp/out" "$tmp/crlf" "$(body_offset "$tmp/out")" "$(body_offset "$tmp/crlf")"

printf 'From: mallory@example.net\nX-Spam-Status: No, score=0.000000\nTo: bob@example.org\nX-Spam-Flag: YES\nx-spam-score:\n 0.0\n\t0.1\nSubject: forged\nX-Virus-Status:\n Clean\nX-SPAM-FLAG: yes\nX-Spam-Other: kept\n\nbody\nX-Spam-Flag: YES\nX-Virus-Status: Clean\n' >"$tmp/forged"
printf 'From: mallory@example.net\nTo: bob@example.org\nSubject: forged\nX-Spam-Other: kept\n\nbody\nX-Spam-Flag: YES\nX-Virus-Status: Clean\n' >"$tmp/forged.clean"
expect_exit 0 "forged verdict fields" to_out mf <"$tmp/forged"
is "$("$PYTHON3" "$tmp/added.py" "$tmp/forged.clean" "$tmp/out" end)" same \
	"forged X-Spam-*/X-Virus-Status fields (any case, folded) removed from the top header, others and the body's kept"
is "$(grep -c '^X-Spam-Flag: YES$' "$tmp/out")" 1 "... the body's X-Spam-Flag line is still there, and nothing added it"

printf 'From a@example.org Sat Jan  1 00:00:00 2000\nFrom: a@example.org\nSubject: mbox From_ line\n\nbody\n' >"$tmp/fromline"
filter_ok "a message starting with a From_ line" "$tmp/fromline"

: >"$tmp/empty"
filter_ok "empty input" "$tmp/empty"
printf 'From: a@example.org\nSubject: no body\n' >"$tmp/nobody"
filter_ok "a message with no body (no empty line)" "$tmp/nobody"
printf 'From: a@example.org\nSubject: no body\n\n' >"$tmp/nobody2"
filter_ok "a message with an empty body" "$tmp/nobody2"
printf 'From: a@example.org\nSubject: no newline' >"$tmp/nonl"
filter_ok "a header without a final newline, anywhere" "$tmp/nonl"

# ---- bad and huge input: bounded time and memory, intact ----
"$PYTHON3" - "$tmp" <<'PY'
import random, sys
d = sys.argv[1]
r = random.Random(24)
junk = r.randbytes(1 << 20)
open(d + "/junk", "wb").write(junk)
open(d + "/junkbody", "wb").write(b"From: a@example.org\nSubject: junk\n"
                                  b"Content-Type: text/plain; charset=utf-8\n\n" + junk)
# 10,000 multipart parts, each inside the one before
n = 10000
with open(d + "/nested", "wb") as f:
    f.write(b"From: a@example.org\nSubject: nested\nMIME-Version: 1.0\n"
            b"Content-Type: multipart/mixed; boundary=\"b0\"\n\n")
    for i in range(n):
        f.write(b"--b%d\nContent-Type: multipart/mixed; boundary=\"b%d\"\n\n" % (i, i + 1))
    f.write(b"--b%d\nContent-Type: text/plain\n\ninnermost text\n--b%d--\n" % (n, n))
    for i in range(n - 1, -1, -1):
        f.write(b"--b%d--\n" % i)
# 10,000 parts side by side
with open(d + "/siblings", "wb") as f:
    f.write(b"From: a@example.org\nSubject: siblings\nMIME-Version: 1.0\n"
            b"Content-Type: multipart/mixed; boundary=\"s\"\n\n")
    for i in range(n):
        f.write(b"--s\nContent-Type: text/plain\n\npart %d\n" % i)
    f.write(b"--s--\n")
# 100,000 addresses: folded, and on one line
addrs = [b"user%d@example%d.org" % (i, i % 97) for i in range(100000)]
open(d + "/addrs", "wb").write(b"From: a@example.org\nTo: " + b",\n ".join(addrs) +
                               b"\nSubject: many\n\nbody\n")
open(d + "/addrline", "wb").write(b"From: a@example.org\nSubject: one line\nCc: " +
                                  b", ".join(addrs) + b"\n\nbody\n")
# malformed MIME
open(d + "/noend", "wb").write(b"From: a@example.org\nSubject: no end\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=\"x\"\n\n--x\nContent-Type: text/plain\n\n"
    b"one\n--x\nContent-Type: multipart/alternative; boundary=\"y\"\n\n--y\n"
    b"Content-Type: text/html\n\n<p>unclosed")
open(d + "/badb64", "wb").write(b"From: a@example.org\nSubject: bad base64\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=\"x\"\n\n--x\nContent-Type: text/plain\n"
    b"Content-Transfer-Encoding: base64\n\n!!!*** not base64 \xff\xfe ===\naGVsbG8=d29ybGQ\n"
    b"--x\nContent-Type: application/octet-stream; name=\"a.bin\"\n"
    b"Content-Transfer-Encoding: base64\n\nQUJD\nR\n--x--\n")
open(d + "/noboundary", "wb").write(b"From: a@example.org\nSubject: no boundary\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed\nContent-Transfer-Encoding: quoted-printable\n\n"
    b"--\n=ZZ=\n=\n--x--\n")
open(d + "/badheader", "wb").write(b"From: a@example.org\nSubject: =?utf-8?B?!!!?= =?x?Q?\xff?=\n"
    b"Content-Type: text/plain; charset=\"no-such-charset\"; ;;; =\n"
    b"Content-Transfer-Encoding: x-unknown\n\n\xff\xfe\xfd body\n")
PY
filter_ok "1 MiB of random octets, anywhere" "$tmp/junk"
filter_ok "a header then 1 MiB of random octets" "$tmp/junkbody"
check "... that body is byte-exact" cmp "$tmp/out" "$tmp/junkbody" "$(body_offset "$tmp/out")" "$(body_offset "$tmp/junkbody")"
filter_ok "10,000 nested multipart parts" "$tmp/nested"
filter_ok "10,000 multipart parts side by side" "$tmp/siblings"
filter_ok "a To: field of 100,000 addresses, folded" "$tmp/addrs"
filter_ok "a Cc: field of 100,000 addresses on one 2.5 MB line, anywhere" "$tmp/addrline"
filter_ok "multipart with no closing boundary" "$tmp/noend"
filter_ok "bad base64 in a text part and an attachment" "$tmp/badb64"
filter_ok "multipart without a boundary parameter, bad quoted-printable" "$tmp/noboundary"
filter_ok "bad encoded words, unknown charset and transfer encoding" "$tmp/badheader"
# every one of them through --train and --check too, as a plain directory
mkdir "$tmp/bad"
for f in junk junkbody nested siblings addrs addrline noend badb64 noboundary badheader empty nobody nonl; do
	cp "$tmp/$f" "$tmp/bad/$f"
done
rm -f "$tmp/rss"
timeout 60 /usr/bin/time -f %M -o "$tmp/rss" "$MAIL_FILTER" -d "$tmp/bad.lmdb" --train spam "$tmp/bad" 2>"$tmp/stderr"
ok $? "--train on a directory of all the bad and huge messages: exit 0"
rss=$(tail -1 "$tmp/rss")
echo "# ... peak RSS $rss KiB"
check "... under 200 MiB of memory" test "${rss:-0}" -gt 0 -a "${rss:-0}" -lt 204800
rm -f "$tmp/rss"
timeout 60 /usr/bin/time -f %M -o "$tmp/rss" "$MAIL_FILTER" -d "$tmp/bad.lmdb" --check "$tmp/bad" >"$tmp/out" 2>"$tmp/stderr"
ok $? "--check on them: exit 0"
rss=$(tail -1 "$tmp/rss")
check "... under 200 MiB of memory ($rss KiB)" test "${rss:-0}" -gt 0 -a "${rss:-0}" -lt 204800
is "$(cut -d: -f1 "$tmp/out" | sort | tr '\n' ' ')" "$(ls "$tmp"/bad/* | sort | tr '\n' ' ')" "... a line for each, trained spam"
is "$(grep -v ': Yes, score=' "$tmp/out")" "$tmp/bad/empty: Unsure, score=0.500000" \
	"... each of them Yes after training them as spam, but the empty one (no tokens)"

# from a pipe: the same as from a file
cat "$tmp/plain" | mf >"$tmp/out" 2>"$tmp/stderr"
ok $? "filter mode from a pipe: exit 0"
is "$("$PYTHON3" "$tmp/added.py" "$tmp/plain" "$tmp/out" end)" same "... the input plus the added fields"
cat "$tmp/junkbody" | mf >"$tmp/out" 2>"$tmp/stderr"
is "$("$PYTHON3" "$tmp/added.py" "$tmp/junkbody" "$tmp/out" end)" same "filter mode, 1 MiB of random body from a pipe: intact"

# ---- training: a synthetic corpus, every source mail-filter reads ----
"$PY" - "$tmp" <<'PY'
import mailbox, os, random, sys
d = sys.argv[1]
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ["top_srcdir"], "tests"))
import spamcorpus

def message(cls, r, i, tag):
    return spamcorpus.message(cls, r, i, tag, "bob@corp.example.org", "example")

r = random.Random(8)
corpus = {c: [message(c, r, i, "train") for i in range(40)] for c in ("spam", "ham")}
def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
for c in ("spam", "ham"):
    m = corpus[c]
    write(f"{d}/{c}.file", m[0])
    write(f"{d}/{c}.stdin", m[1])
    os.mkdir(f"{d}/{c}.dir")
    for i in range(2, 12):
        write(f"{d}/{c}.dir/msg{i:02d}", m[i])
    write(f"{d}/{c}.dir/.hidden", message("ham" if c == "spam" else "spam", r, 99, "hidden"))
    os.mkdir(f"{d}/{c}.dir/subdir")
    write(f"{d}/{c}.dir/subdir/nested", message("ham" if c == "spam" else "spam", r, 98, "nested"))
# spam messages 12..39 in an mbox, ham 12..39 in a Maildir (half new, half cur)
mb = mailbox.mbox(f"{d}/spam.mbox")
for data in corpus["spam"][12:]:
    mb.add(data)
mb.close()
md = mailbox.Maildir(f"{d}/ham.maildir")
for k, data in enumerate(corpus["ham"][12:]):
    msg = mailbox.MaildirMessage(data)
    if k % 2:
        msg.set_subdir("cur")
        msg.set_flags("S")
    md.add(msg)
# unseen probes, and a message to switch classes with
r = random.Random(2024)
write(f"{d}/probe.spam", message("spam", r, 500, "probe"))
write(f"{d}/probe.ham", message("ham", r, 501, "probe"))
write(f"{d}/switch", message("ham", r, 502, "switch"))
PY
is "$(ls "$tmp/ham.maildir/new" | wc -l | tr -d ' ')/$(ls "$tmp/ham.maildir/cur" | wc -l | tr -d ' ')" 14/14 \
	"Python's mailbox wrote a Maildir of 28 ham in new/ and cur/"
is "$(mailcheck mbox "$tmp/spam.mbox")" 28 "Python's mailbox wrote an mbox of 28 spam"

expect_exit 0 "train spam from a file" mf --train spam "$tmp/spam.file"
expect_exit 0 "train ham from a file" mf --train ham "$tmp/ham.file"
expect_exit 0 "train spam from stdin" mf --train spam <"$tmp/spam.stdin"
expect_exit 0 "train ham from stdin" mf --train ham <"$tmp/ham.stdin"
expect_exit 0 "train spam from an mbox of 28 (-v)" mf -v --train spam "$tmp/spam.mbox"
check "... the summary line counts 28 messages" grep -qw 28 "$tmp/stderr"
expect_exit 0 "train ham from a Maildir of 28, new/ and cur/ (-v)" mf -v --train ham "$tmp/ham.maildir"
check "... the summary line counts 28 messages" grep -qw 28 "$tmp/stderr"
expect_exit 0 "train spam from a plain directory of 10 (-v)" mf -v --train spam "$tmp/spam.dir"
check "... the summary counts 10: dot files and subdirectories skipped" grep -qw 10 "$tmp/stderr"
expect_exit 0 "train ham from a plain directory of 10, two paths at once" mf --train ham "$tmp/ham.dir" "$tmp/ham.file"

mf --check "$tmp/spam.mbox" >"$tmp/check.mbox"
is "$(cut -d: -f1,2 "$tmp/check.mbox" | tr '\n' ' ')" \
	"$(for i in $(seq 1 28); do printf '%s:%s ' "$tmp/spam.mbox" "$i"; done)" \
	"--check on the mbox: one line per member, PATH:N from 1"
is "$(grep -c ': Yes, score=' "$tmp/check.mbox")" 28 "... all 28 trained spam are Yes"
is "$(mf --check "$tmp/ham.maildir" | grep -c ': No, score=')" 28 "--check on the Maildir: all 28 trained ham are No"
out=$(mf --check "$tmp/probe.spam")
case $out in "$tmp/probe.spam: Yes, score="*) r=0 ;; *) r=1 ;; esac
ok $r "--check: an unseen spammy message is Yes"
[ $r -eq 0 ] || echo "#   $out"
out=$(mf --check "$tmp/probe.ham")
case $out in "$tmp/probe.ham: No, score="*) r=0 ;; *) r=1 ;; esac
ok $r "--check: an unseen hammy message is No"
[ $r -eq 0 ] || echo "#   $out"
out=$(mf --check <"$tmp/probe.spam")
case $out in "-: Yes, score="*) r=0 ;; *) r=1 ;; esac
ok $r "--check from stdin: PATH is -"
out=$(cat "$tmp/probe.spam" | mf --check)
case $out in "-: Yes, score="*) r=0 ;; *) r=1 ;; esac
ok $r "--check from a pipe"
is "$(cat "$tmp/spam.mbox" | mf --check | cut -d, -f1 | tr '\n' ' ')" "$(for i in $(seq 1 28); do printf -- '-:%s: Yes ' "$i"; done)" \
	"--check of the mbox from a pipe: 28 lines -:N, all Yes"
is "$(mf --check "$tmp/probe.spam" "$tmp/probe.ham" | cut -d, -f1)" \
	"$(printf '%s: Yes\n%s: No' "$tmp/probe.spam" "$tmp/probe.ham")" "--check with two paths: a line each, in order"

filter_ok "a spammy message, trained database" "$tmp/probe.spam"
is "$(field X-Spam-Flag "$tmp/out")" YES "... X-Spam-Flag: YES"
case $(field X-Spam-Status "$tmp/out") in "Yes, score="*) r=0 ;; *) r=1 ;; esac
ok $r "... X-Spam-Status: Yes"
filter_ok "a hammy message, trained database" "$tmp/probe.ham"
case $(field X-Spam-Status "$tmp/out") in "No, score="*) r=0 ;; *) r=1 ;; esac
ok $r "... X-Spam-Status: No"

# --check lines of messages of both classes: equal lines, equal database
scores() { mf --check "$tmp/probe.spam" "$tmp/probe.ham" "$tmp/switch" "$tmp/spam.file" "$tmp/ham.dir"; }
scores >"$tmp/before"
mf --train spam "$tmp/spam.mbox" "$tmp/spam.dir" "$tmp/spam.file" 2>"$tmp/stderr" &&
	mf --train ham "$tmp/ham.maildir" "$tmp/ham.dir" <"$tmp/ham.stdin" 2>>"$tmp/stderr" &&
	mf --train spam <"$tmp/spam.stdin" 2>>"$tmp/stderr"
ok $? "training everything again"
scores >"$tmp/after"
check "... changes no score: training is idempotent per message" cmp -s "$tmp/before" "$tmp/after"
cat "$tmp/spam.mbox" | mf --train spam 2>"$tmp/stderr"
ok $? "training the mbox again from a pipe"
scores >"$tmp/after"
check "... changes no score either" cmp -s "$tmp/before" "$tmp/after"
expect_exit 0 "training the mbox again (-v)" mf -v --train spam "$tmp/spam.mbox"
check "... the summary: 0 learnt, 28 unchanged" sh -c "grep -qw 0 '$tmp/stderr' && grep -qw 28 '$tmp/stderr'"

# class switch and --untrain, each from a copy of the trained database
cp "$db" "$tmp/base.lmdb"
# with DB: run mf against database copy DB
with() { _w=$1; shift; "$MAIL_FILTER" -d "$tmp/$_w.lmdb" "$@"; }
wscores() { with "$1" --check "$tmp/probe.spam" "$tmp/probe.ham" "$tmp/switch" "$tmp/spam.file" "$tmp/ham.dir"; }
cp "$tmp/base.lmdb" "$tmp/hamonly.lmdb"
cp "$tmp/base.lmdb" "$tmp/switched.lmdb"
cp "$tmp/base.lmdb" "$tmp/untrained.lmdb"
expect_exit 0 "train a message as ham" with hamonly --train ham "$tmp/switch"
expect_exit 0 "train the same message as spam" with switched --train spam "$tmp/switch"
spamscore=$(with switched --check "$tmp/switch" | sed 's/.*score=\([0-9.]*\).*/\1/')
basescore=$(with base --check "$tmp/switch" | sed 's/.*score=\([0-9.]*\).*/\1/')
check "... its score rose ($basescore -> $spamscore)" "$PYTHON3" -c "import sys; sys.exit(not $spamscore > $basescore)"
expect_exit 0 "... then as ham: the class switch" with switched --train ham "$tmp/switch"
is "$(wscores switched)" "$(wscores hamonly)" "spam then ham leaves the database as ham alone does"
expect_exit 0 "train as spam" with untrained --train spam "$tmp/switch"
expect_exit 0 "... --untrain spam" with untrained --untrain spam "$tmp/switch"
is "$(wscores untrained)" "$(wscores base)" "... and every score is as before the training"
expect_exit 0 "--untrain a message never trained" with untrained --untrain spam "$tmp/probe.spam"
is "$(wscores untrained)" "$(wscores base)" "... changes nothing"
expect_exit 0 "--untrain ham of a message trained as spam" with base --untrain ham "$tmp/spam.file"
is "$(wscores base)" "$(cat "$tmp/after")" "... changes nothing: only what it remembers is forgotten"
expect_exit 0 "--untrain spam of the whole mbox" with base --untrain spam "$tmp/spam.mbox"
rm -f "$tmp/nombox.lmdb"
with nombox --train spam "$tmp/spam.file" "$tmp/spam.dir" &&
	with nombox --train spam <"$tmp/spam.stdin" &&
	with nombox --train ham "$tmp/ham.file" "$tmp/ham.maildir" "$tmp/ham.dir" &&
	with nombox --train ham <"$tmp/ham.stdin"
ok $? "a database trained with all but the mbox"
is "$(wscores base)" "$(wscores nombox)" "... scores as the one from which the mbox was untrained"

# ---- the pipeline into mail-store ----
store_md=$tmp/pipe/Maildir
mf <"$tmp/probe.spam" | "$MAIL_STORE" --maildir "$store_md" -f s@example.org -r bob@example.org
ok $? "mail-filter | mail-store: a spammy message"
is "$(count_files "$store_md/.Junk/new")/$(count_files "$store_md/new")" 1/0 "... filed in .Junk/new"
mf <"$tmp/probe.ham" | "$MAIL_STORE" --maildir "$store_md" -f s@example.org -r bob@example.org
ok $? "mail-filter | mail-store: a hammy message"
is "$(count_files "$store_md/.Junk/new")/$(count_files "$store_md/new")" 1/1 "... filed in new/"
"$PYTHON3" - "$store_md" "$tmp/probe.spam" "$tmp/probe.ham" <<'PY' >"$tmp/pipe.check"
import mailbox, sys
md = mailbox.Maildir(sys.argv[1], factory=None, create=False)
for box, probe in ((md.get_folder("Junk"), sys.argv[2]), (md, sys.argv[3])):
    data = box.get_bytes(next(iter(box.keys())))
    want = open(probe, "rb").read()
    print(data.split(b"\n\n", 1)[1] == want.split(b"\n\n", 1)[1])
PY
is "$(cat "$tmp/pipe.check" | tr '\n' ' ')" "True True " "... bodies intact, read back by Python's mailbox"

# ---- rules ----
cat >"$tmp/rules" <<'EOF'
# scored rules for the test
header SUBJ_FREE Subject /free +money/i 2.5
describe SUBJ_FREE the subject promises free money
body BODY_WIRE /wire transfer/ 1.5
body BODY_BANK /bank transfer/ 0.5
  # an indented comment
body BODY_UNUSED /this text is in no message/ 9
header TRUSTED X-Mailer /^trusted-mailer$/ -3
EOF
printf 'From: a@example.org\nSubject: =?utf-8?q?FREE_money?= now\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b"\n\n--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n%s\n--b\nContent-Type: text/html\n\n<p>please <b>wire</b> transfer</p>\n--b--\n' \
	"$(printf 'Hello,\nsend it by bank transfer today.\n' | base64 -w0)" >"$tmp/rulemsg"
# empty database: bayes = 0.5 exactly, so score = 1/(1+exp(-P*ln(99)/5))
rm -rf "$tmp/empty.lmdb"
rf() { "$MAIL_FILTER" -d "$tmp/empty.lmdb" --rules "$tmp/rules" "$@"; }
expect_exit 0 "a header rule (RFC 2047 subject), body rules (HTML tags removed; base64 text) match" to_out rf <"$tmp/rulemsg"
want=$("$PYTHON3" -c 'import math; s = 1 / (1 + math.exp(-(0 + 4.5 * math.log(99) / 5))); print("Unsure, score=%.6f bayes=0.500000 points=4.5 tests=SUBJ_FREE,BODY_WIRE,BODY_BANK" % s)')
is "$(field X-Spam-Status "$tmp/out")" "$want" "... X-Spam-Status: score by the formula, points=4.5, tests= in file order"
is "$("$PYTHON3" "$tmp/added.py" "$tmp/rulemsg" "$tmp/out" end)" same "... the message intact"
printf 'From: a@example.org\nSubject: free money\nX-Mailer: trusted-mailer\n\nhtml <i>wire</i>\n' >"$tmp/rulemsg2"
want=$("$PYTHON3" -c 'import math; s = 1 / (1 + math.exp(-(-0.5 * math.log(99) / 5))); print("No, score=%.6f bayes=0.500000 points=-0.5 tests=SUBJ_FREE,TRUSTED" % s)')
rf <"$tmp/rulemsg2" >"$tmp/out"
is "$(field X-Spam-Status "$tmp/out")" "$want" "a negative score lowers it (below the ham cutoff: No)"
printf 'From: a@example.org\nSubject: hello\n\nnothing to see\n' >"$tmp/rulemsg3"
rf <"$tmp/rulemsg3" >"$tmp/out"
is "$(field X-Spam-Status "$tmp/out")" "Unsure, score=0.500000 bayes=0.500000 points=0.0" "rules, none matching: points=0.0 and no tests="
printf 'body FIVE /five points/ 5\n' >"$tmp/rules5"
printf 'Subject: x\n\nfive points\n' | "$MAIL_FILTER" -d "$tmp/empty.lmdb" --rules "$tmp/rules5" >"$tmp/out"
case $(field X-Spam-Status "$tmp/out") in *"score=0.990000 bayes=0.500000 points=5.0 tests=FIVE") r=0 ;; *) r=1 ;; esac
ok $r "5 points take 0.5 to 0.99"
# with the trained database: the points shift the Bayes score in log-odds
"$MAIL_FILTER" -d "$db" --rules "$tmp/rules" --check "$tmp/rulemsg" >"$tmp/rcheck"
check "--check with rules: tests= on the line" grep -q ' points=4.5 tests=SUBJ_FREE,BODY_WIRE,BODY_BANK$' "$tmp/rcheck"
"$PYTHON3" - "$tmp/rcheck" <<'PY' >"$tmp/formula"
import math, re, sys
line = open(sys.argv[1]).read()
s, b, p = (float(x) for x in re.search(r"score=([\d.]+) bayes=([\d.]+) points=([-\d.]+)", line).groups())
want = 1 / (1 + math.exp(-(math.log(b / (1 - b)) + p * math.log(99) / 5)))
print("ok" if abs(want - s) < 1e-4 else "score %s, bayes %s, points %s: want %.6f" % (s, b, p, want))
PY
is "$(cat "$tmp/formula")" ok "... score = 1/(1+exp(-(logit(bayes) + points*ln(99)/5))) with a trained database"
out=$(mf --rules "$tmp/rules" --check "$tmp/probe.ham")
case $out in *"No, score="*" points=0.0") r=0 ;; *) r=1 ;; esac
ok $r "--check with rules matching nothing: the hammy message stays No"
cat >"$tmp/conf" <<EOF
spam_database = $tmp/empty.lmdb
filter_rules = $tmp/rules
EOF
expect_exit 0 "spam_database and filter_rules from mail.conf (--config)" to_out "$MAIL_FILTER" --config "$tmp/conf" <"$tmp/rulemsg"
case $(field X-Spam-Status "$tmp/out") in *"bayes=0.500000 points=4.5 tests=SUBJ_FREE,BODY_WIRE,BODY_BANK") r=0 ;; *) r=1 ;; esac
ok $r "... the rules and the (empty) database were used"
expect_exit 0 "the same from \$MAIL_CONF" to_out env MAIL_CONF="$tmp/conf" "$MAIL_FILTER" <"$tmp/rulemsg"
case $(field X-Spam-Status "$tmp/out") in *"bayes=0.500000 points=4.5 tests=SUBJ_FREE,BODY_WIRE,BODY_BANK") r=0 ;; *) r=1 ;; esac
ok $r "... the rules and the (empty) database were used"
printf 'header OK Subject /x/ 1\n\nheader BAD Subject /unclosed[/ 1\n' >"$tmp/badrules"
expect_exit 78 "a rules file with a bad regex: exit 78" mf --rules "$tmp/badrules" <"$tmp/rulemsg3"
stderr_has "$tmp/badrules:3" "... file:line on stderr"
printf '# fine\nheadr TYPO Subject /x/ 1\n' >"$tmp/badrules2"
expect_exit 78 "a rules file with an unknown keyword: exit 78" mf --rules "$tmp/badrules2" --check "$tmp/rulemsg3"
stderr_has "$tmp/badrules2:2" "... file:line on stderr"
printf 'body A /a/ 1\nbody A /b/ 1\n' >"$tmp/badrules3"
expect_exit 78 "a rules file naming a rule twice: exit 78" mf --rules "$tmp/badrules3" <"$tmp/rulemsg3"
stderr_has "$tmp/badrules3:2" "... file:line on stderr"
printf 'body A /a/ 1001\n' >"$tmp/badrules4"
expect_exit 78 "a score over 1000: exit 78" mf --rules "$tmp/badrules4" <"$tmp/rulemsg3"
stderr_has "$tmp/badrules4:1" "... file:line on stderr"

# ---- DNS blocklists: a real dnsmasq on loopback ----
DNSMASQ=$(command -v dnsmasq || ls /usr/sbin/dnsmasq 2>/dev/null)
if [ -z "$DNSMASQ" ]; then
	echo "# SKIP DNSBL cases: dnsmasq is not installed (Debian dnsmasq-base)"
else
	dns_port=$("$PYTHON3" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$DNSMASQ" --keep-in-foreground --no-resolv --no-hosts --conf-file=/dev/null \
		--listen-address=127.0.0.1 --bind-interfaces --port="$dns_port" --pid-file= \
		--log-facility=- --local=/bl.test/ --local=/bl2.test/ \
		--host-record=1.2.0.192.bl.test,127.0.0.2 --host-record=1.2.0.192.bl2.test,127.0.0.3 \
		>"$tmp/dnsmasq.log" 2>&1 </dev/null &
	servers="$servers $!"
	# ask NAME A of the server at $dns_port; print the addresses or NXDOMAIN
	cat >"$tmp/dnsask.py" <<'PY'
import random, socket, struct, sys, time
port, name = int(sys.argv[1]), sys.argv[2]
q = struct.pack(">HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
end = time.monotonic() + 20
while time.monotonic() < end:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.sendto(q, ("127.0.0.1", port))
        r = s.recv(512)
    except OSError:
        time.sleep(0.1)
        continue
    rcode, an = r[3] & 15, struct.unpack(">H", r[6:8])[0]
    if rcode == 3:
        sys.exit(print("NXDOMAIN"))
    i = len(q)
    out = []
    for _ in range(an):
        while r[i] not in (0,) and r[i] < 0xc0:
            i += r[i] + 1
        i += 2 if r[i] >= 0xc0 else 1
        t, c, ttl, n = struct.unpack(">HHIH", r[i:i + 10])
        i += 10
        if t == 1:
            out.append(".".join(str(b) for b in r[i:i + n]))
        i += n
    sys.exit(print(" ".join(out) or "rcode %d" % rcode))
print("no answer")
PY
	is "$("$PYTHON3" "$tmp/dnsask.py" "$dns_port" 1.2.0.192.bl.test)" 127.0.0.2 "dnsmasq answers 127.0.0.2 for 1.2.0.192.bl.test"
	is "$("$PYTHON3" "$tmp/dnsask.py" "$dns_port" 7.100.51.198.bl.test)" NXDOMAIN "... and NXDOMAIN for 7.100.51.198.bl.test"
	dns="--dns-server 127.0.0.1:$dns_port"
	# dq ENV... -- OPTIONS...: X-Spam-Status of $tmp/dnsmsg filtered with
	# an empty database, TCPREMOTEIP unset unless ENV sets it
	dq() {
		_env=
		while [ "$1" != -- ]; do _env="$_env $1"; shift; done
		shift
		env -u TCPREMOTEIP $_env "$MAIL_FILTER" -d "$tmp/nodb.lmdb" $dns "$@" <"$tmp/dnsmsg" >"$tmp/out" 2>"$tmp/stderr" ||
			{ echo "#   exit $?:"; sed 's/^/#   /' "$tmp/stderr"; }
		field X-Spam-Status "$tmp/out"
	}
	p3=$("$PYTHON3" -c 'import math; print("%.6f" % (1 / (1 + math.exp(-3.0 * math.log(99) / 5))))')
	printf 'From: a@example.org\nSubject: dnsbl\n\nhello\n' >"$tmp/dnsmsg"
	out=$(dq TCPREMOTEIP=192.0.2.1 -- --dnsbl bl.test)
	is "$out" "Unsure, score=$p3 bayes=0.500000 points=3.0 tests=DNSBL:bl.test" \
		"TCPREMOTEIP=192.0.2.1 listed in bl.test: 3.0 points by default, the zone in tests="
	is "$("$PYTHON3" "$tmp/added.py" "$tmp/dnsmsg" "$tmp/out" end)" same "... the message intact"
	out=$(dq TCPREMOTEIP=192.0.2.1 -- --dnsbl bl.test=5,bl2.test=1.5,none.test)
	case $out in *"bayes=0.500000 points=6.5 tests="*bl.test*bl2.test*) r=0 ;; *) r=1 ;; esac
	ok $r "two zones listing it, with scores, one that does not: points=6.5, both zones in tests="
	[ $r -eq 0 ] || echo "#   $out"
	case $out in Yes,*) r=0 ;; *) r=1 ;; esac
	ok $r "... 6.5 points take 0.5 past the spam cutoff: Yes"
	is "$(dq TCPREMOTEIP=198.51.100.7 -- --dnsbl bl.test)" "Unsure, score=0.500000 bayes=0.500000 points=0.0" \
		"an unlisted TCPREMOTEIP: no points, no tests="
	is "$(dq TCPREMOTEIP=198.51.100.7 -- --dnsbl bl.test --ip 192.0.2.1 | sed 's/.*points=//')" "3.0 tests=DNSBL:bl.test" \
		"--ip overrides TCPREMOTEIP"
	rcv="Received: from helo.example (host.example [192.0.2.1])
	by mx.example.org (mail-toolkit) with ESMTP id 1A2B3C4D5E6F
	for <bob@example.org>;
	Sat, 28 Nov 2026 12:00:00 +0000"
	printf '%s\nFrom: a@example.org\nSubject: dnsbl\n\nhello\n' "$rcv" >"$tmp/dnsmsg"
	is "$(dq -- --dnsbl bl.test | sed 's/.*points=//')" "3.0 tests=DNSBL:bl.test" \
		"no TCPREMOTEIP: the address in the top Received: field written by mail-recv is listed"
	is "$("$PYTHON3" "$tmp/added.py" "$tmp/dnsmsg" "$tmp/out" end)" same "... the message intact"
	is "$(dq TCPREMOTEIP=198.51.100.7 -- --dnsbl bl.test | sed 's/.*points=//')" "0.0" \
		"TCPREMOTEIP, when set, is used instead of the Received: field"
	printf 'Received: from helo.example (host.example [198.51.100.7])\n\tby mx.example.org (mail-toolkit) with ESMTP id 1A2B3C4D5E6F;\n\tSat, 28 Nov 2026 12:00:00 +0000\n%s\nFrom: a@example.org\nSubject: dnsbl\n\nhello\n' "$rcv" >"$tmp/dnsmsg"
	is "$(dq -- --dnsbl bl.test | sed 's/.*points=//')" "0.0" "only the top Received: field counts (a listed address below it does not)"
	printf 'Received: from helo.example (host.example [192.0.2.1])\n\tby mx.example.org (Postfix) with ESMTP id 4XYZ;\n\tSat, 28 Nov 2026 12:00:00 +0000\nFrom: a@example.org\nSubject: dnsbl\n\nhello\n' >"$tmp/dnsmsg"
	is "$(dq -- --dnsbl bl.test | sed 's/.*points=//')" "0.0" "a top Received: field not written by mail-recv is not used"
	printf '%s\nFrom: a@example.org\nSubject: free money\n\nhello\n' "$rcv" >"$tmp/dnsmsg"
	is "$(dq -- --dnsbl bl.test --rules "$tmp/rules" | sed 's/.*points=//')" "5.5 tests=SUBJ_FREE,DNSBL:bl.test" \
		"rules and DNSBL together: points add up, rules first in tests="
	dead_dns=$("$PYTHON3" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	start=$(date +%s)
	env -u TCPREMOTEIP "$MAIL_FILTER" -d "$tmp/nodb.lmdb" --dnsbl bl.test --dns-server "127.0.0.1:$dead_dns" <"$tmp/dnsmsg" >"$tmp/out" 2>"$tmp/stderr"
	r=$?
	is "$r" 0 "no name server answering: exit 0, the message passes"
	check "... within 10 s ($(( $(date +%s) - start )) s)" test $(( $(date +%s) - start )) -le 10
	is "$("$PYTHON3" "$tmp/added.py" "$tmp/dnsmsg" "$tmp/out" end)" same "... intact"
	printf 'spam_database = %s\ndnsbl = bl.test=2\ndns_server = 127.0.0.1:%s\n' "$tmp/nodb.lmdb" "$dns_port" >"$tmp/dnsconf"
	out=$(env -u TCPREMOTEIP "$MAIL_FILTER" --config "$tmp/dnsconf" --check "$tmp/dnsmsg" 2>&1)
	case $out in "$tmp/dnsmsg: "*" points=2.0 tests=DNSBL:bl.test") r=0 ;; *) r=1 ;; esac
	ok $r "dnsbl and dns_server from mail.conf, in --check"
	[ $r -eq 0 ] || echo "#   $out"
	expect_exit 78 "a bad --dnsbl list: exit 78" to_null mf --dnsbl 'bl.test=x' <"$tmp/dnsmsg"
fi

# ---- malware: the built-in checks ----
"$PY" - "$tmp" <<'PY'
import base64, io, sys, zipfile
from email.message import EmailMessage
d = sys.argv[1]
eicar = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
open(d + "/eicar.com", "wb").write(eicar)
def msg(name, data, ctype="application/octet-stream"):
    m = EmailMessage()
    m["From"] = "a@example.org"
    m["To"] = "bob@example.org"
    m["Subject"] = "attachment " + name
    m.set_content("see the attachment\n")
    main, sub = ctype.split("/")
    m.add_attachment(data, maintype=main, subtype=sub, filename=name)
    open("%s/att-%s" % (d, name), "wb").write(bytes(m))
msg("eicar.com.txt", eicar)
msg("invoice.pdf.exe", b"MZ\x90\x00not really a program")
msg("report.pdf", b"%PDF-1.4 harmless\n", "application/pdf")
z = io.BytesIO()
with zipfile.ZipFile(z, "w") as zf:
    zf.writestr("docs/readme.txt", "hello")
    zf.writestr("docs/setup.scr", "MZ not really")
msg("bundle.zip", z.getvalue(), "application/zip")
z = io.BytesIO()
with zipfile.ZipFile(z, "w") as zf:
    zf.writestr("readme.txt", "hello")
msg("clean.zip", z.getvalue(), "application/zip")
open(d + "/eicar-plain", "wb").write(b"From: a@example.org\nSubject: eicar\n\n" + eicar + b"\n")
PY
check "the base64 attachment is base64" grep -q '^Content-Transfer-Encoding: base64' "$tmp/att-eicar.com.txt"
# virus_is FILE PATTERN DESCRIPTION [OPTIONS]: filtered with OPTIONS,
# X-Virus-Status matches the shell PATTERN and the message is intact
virus_is() {
	_f=$1 _pat=$2 _d=$3
	shift 3
	mf "$@" <"$_f" >"$tmp/out" 2>"$tmp/stderr"
	_rc=$?
	_v=$(field X-Virus-Status "$tmp/out")
	case $_rc:$_v in 0:$_pat) ok 0 "$_d" ;; *) ok 1 "$_d"; echo "#   exit $_rc, X-Virus-Status: $_v"; sed 's/^/#   /' "$tmp/stderr" ;; esac
	is "$("$PYTHON3" "$tmp/added.py" "$_f" "$tmp/out" end)" same "... the message intact"
}
virus_is "$tmp/att-eicar.com.txt" "Infected (*EICAR*)" "built-in: EICAR in a base64 attachment is Infected"
virus_is "$tmp/eicar-plain" "Infected (*EICAR*)" "built-in: EICAR as the body is Infected"
virus_is "$tmp/att-invoice.pdf.exe" "Infected (*invoice.pdf.exe*)" "built-in: an invoice.pdf.exe attachment is Infected"
virus_is "$tmp/att-bundle.zip" "Infected (*setup.scr*)" "built-in: a zip holding docs/setup.scr is Infected"
virus_is "$tmp/att-report.pdf" "Clean" "built-in: a PDF attachment is Clean"
virus_is "$tmp/att-clean.zip" "Clean" "built-in: a zip of a text file is Clean"
expect_exit 65 "built-in finding with --reject-virus: exit 65" to_out mf --reject-virus <"$tmp/att-invoice.pdf.exe"
stderr_has "invoice.pdf.exe" "... the finding on stderr"
is "$(wc -c <"$tmp/out" | tr -d ' ')" 0 "... nothing on stdout"
out=$(mf --check "$tmp/att-bundle.zip")
case $out in "$tmp/att-bundle.zip: "*", score="*" virus=Infected ("*"setup.scr"*")") r=0 ;; *) r=1 ;; esac
ok $r "--check appends virus=Infected (...)"
[ $r -eq 0 ] || echo "#   $out"
out=$(mf --check "$tmp/att-report.pdf")
case $out in *virus=*) r=1 ;; *) r=0 ;; esac
ok $r "--check of a clean message has no virus="

# ---- malware: a real clamd with an EICAR-only database ----
CLAMD=$(command -v clamd || ls /usr/sbin/clamd 2>/dev/null)
SIGTOOL=$(command -v sigtool)
if [ -z "$CLAMD" ] || [ -z "$SIGTOOL" ]; then
	echo "# SKIP clamd cases: clamd or sigtool is not installed (Debian clamav-daemon, clamav)"
else
	cd_=$tmp/clamd
	mkdir -p "$cd_/db"
	cp "$tmp/eicar.com" "$cd_/eicar.com"
	(cd "$cd_" && "$SIGTOOL" --md5 eicar.com | sed 's/:eicar.com$/:Eicar-Test-HDB/' >db/eicar.hdb &&
		printf 'Eicar-Test-NDB:0:*:%s\n' "$("$SIGTOOL" --hex-dump <eicar.com | tr -d '\n')" >db/eicar.ndb)
	ok $? "sigtool builds an EICAR database (.hdb and .ndb)"
	clamd_port=$("$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >"$cd_/clamd.conf" <<EOF
DatabaseDirectory $cd_/db
LocalSocket $cd_/clamd.sock
FixStaleSocket true
TCPSocket $clamd_port
TCPAddr 127.0.0.1
Foreground true
LogFile $cd_/clamd.log
PidFile $cd_/clamd.pid
StreamMaxLength 1M
ScanMail true
ScanArchive true
SelfCheck 0
EOF
	[ "$(id -u)" -ne 0 ] || echo "User root" >>"$cd_/clamd.conf"
	"$CLAMD" -c "$cd_/clamd.conf" >/dev/null 2>&1 </dev/null &
	servers="$servers $!"
	"$PYTHON3" - "$cd_/clamd.sock" <<'PY'
import socket, sys, time
end = time.monotonic() + 40
while time.monotonic() < end:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(sys.argv[1])
        s.sendall(b"zPING\0")
        if s.recv(16).startswith(b"PONG"):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
PY
	ok $? "clamd answers PING on its Unix socket"
	cl() { mf --clamd "$cd_/clamd.sock" "$@"; }
	virus_is "$tmp/plain" "Clean" "clamd (Unix socket): a clean message is Clean" --clamd "$cd_/clamd.sock"
	virus_is "$tmp/probe.ham" "Clean" "clamd (TCP): a clean message is Clean" --clamd "127.0.0.1:$clamd_port"
	virus_is "$tmp/eicar-plain" "Infected (Eicar-Test-*)" "clamd: EICAR as the plain body is Infected (clamd's signature)" --clamd "$cd_/clamd.sock"
	virus_is "$tmp/att-eicar.com.txt" "Infected (Eicar-Test-*)" "clamd: EICAR in a base64 attachment is Infected (clamd's signature)" --clamd "$cd_/clamd.sock"
	virus_is "$tmp/att-eicar.com.txt" "Infected (Eicar-Test-*)" "clamd over TCP: EICAR in a base64 attachment is Infected" --clamd "127.0.0.1:$clamd_port"
	virus_is "$tmp/att-invoice.pdf.exe" "Infected (*invoice.pdf.exe*)" "clamd finds nothing in invoice.pdf.exe: the built-in finding stays" --clamd "$cd_/clamd.sock"
	expect_exit 65 "clamd and --reject-virus: exit 65" to_out cl --reject-virus <"$tmp/att-eicar.com.txt"
	stderr_has "Eicar-Test-" "... clamd's signature on stderr"
	is "$(wc -c <"$tmp/out" | tr -d ' ')" 0 "... nothing on stdout"
	expect_exit 0 "clamd and --reject-virus: a clean message passes" to_out cl --reject-virus <"$tmp/plain"
	is "$("$PYTHON3" "$tmp/added.py" "$tmp/plain" "$tmp/out" end)" same "... intact"
	out=$(cl --check "$tmp/eicar-plain")
	case $out in *" virus=Infected (Eicar-Test-"*")") r=0 ;; *) r=1 ;; esac
	ok $r "--check with clamd: virus=Infected (Eicar-Test-...)"
	[ $r -eq 0 ] || echo "#   $out"
	# clamd down: a socket path with nothing listening, a closed port
	"$PYTHON3" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$tmp/dead.sock"
	expect_exit 75 "clamd down (a socket nobody listens on): exit 75" to_out mf --clamd "$tmp/dead.sock" <"$tmp/plain"
	is "$(wc -c <"$tmp/out" | tr -d ' ')" 0 "... nothing on stdout"
	expect_exit 75 "clamd down (no such socket): exit 75" to_null mf --clamd "$tmp/nonexistent.sock" <"$tmp/plain"
	dead_port=$("$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	expect_exit 75 "clamd down (a closed TCP port): exit 75" to_null mf --clamd "127.0.0.1:$dead_port" <"$tmp/plain"
	virus_is "$tmp/plain" "Unscanned (*)" "clamd down with --virus-optional: exit 0, X-Virus-Status: Unscanned (...)" \
		--clamd "$tmp/dead.sock" --virus-optional
	printf 'clamd_socket = %s\nvirus_optional = yes\n' "$tmp/dead.sock" >"$tmp/vconf"
	virus_is "$tmp/plain" "Unscanned (*)" "clamd_socket and virus_optional = yes from mail.conf" --config "$tmp/vconf"
	printf 'clamd_socket = %s\nreject_virus = yes\n' "$cd_/clamd.sock" >"$tmp/vconf2"
	expect_exit 65 "clamd_socket and reject_virus = yes from mail.conf: exit 65" to_null mf --config "$tmp/vconf2" <"$tmp/eicar-plain"
fi

# ---- usage, configuration and database errors ----
expect_exit 0 "--help exits 0" to_out "$MAIL_FILTER" --help
check "... and prints the usage on stdout" grep -q -- '--train' "$tmp/out"
expect_exit 0 "--version exits 0" to_out "$MAIL_FILTER" --version
check "... and prints the version" grep -q 'mail-filter' "$tmp/out"
expect_exit 64 "--train with a class neither spam nor ham: exit 64" mf --train eggs <"$tmp/plain"
expect_exit 64 "--check and --train together: exit 64" mf --check --train spam "$tmp/plain"
expect_exit 64 "a path in filter mode: exit 64" mf "$tmp/plain"
expect_exit 64 "an unknown option: exit 64" mf --no-such-option <"$tmp/plain"
expect_exit 78 "--spam-cutoff 2: exit 78" mf --spam-cutoff 2 <"$tmp/plain"
expect_exit 78 "--ham-cutoff above --spam-cutoff: exit 78" mf --ham-cutoff 0.9 --spam-cutoff 0.5 <"$tmp/plain"
head -c 100000 "$tmp/junk" >"$tmp/notlmdb"
expect_exit 75 "a database that is not LMDB: exit 75" "$MAIL_FILTER" -d "$tmp/notlmdb" --train spam "$tmp/plain"
mkdir -p "$tmp/home"
HOME=$tmp/home "$MAIL_FILTER" --config /dev/null --train spam "$tmp/spam.file" 2>"$tmp/stderr"
ok $? "--train without -d or spam_database"
check "... uses ~/.mail-filter.lmdb" test -s "$tmp/home/.mail-filter.lmdb"
# cutoffs: the same score, another verdict
out=$("$MAIL_FILTER" -d "$tmp/nodb.lmdb" --check --spam-cutoff 0.3 --ham-cutoff 0.2 <"$tmp/plain")
case $out in "-: Yes, score="*) r=0 ;; *) r=1 ;; esac
ok $r "--spam-cutoff 0.3: the Unsure message is Yes"

done_testing
