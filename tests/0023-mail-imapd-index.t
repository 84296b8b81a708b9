#!/bin/sh
# mail-imapd's derived files, mail-index and mail-cache, in the states a
# live Maildir goes through: made by a full look at settled directories,
# believed while new/ and cur/ are unchanged, and set aside when they
# changed (a delivery, another client's flags, an expunge), when the uid
# list was made again, or when the file is torn or garbage. In each case a
# session must see exactly what the directories hold. Python's imaplib
# runs mail-imapd over a pipe (IMAP4_stream).
. "${top_srcdir:-.}/tests/lib.sh"

MAIL_IMAPD=$top_builddir/mail-imapd
use_mail_conf "example.org"
echo pw | mu add bob@example.org --password-stdin >/dev/null
box=$tmp/vmail/example.org/bob/Maildir
i=1
while [ $i -le 30 ]; do
	printf 'From: sender%d@remote.test\nSubject: message %d\n\nbody %d\n' $i $i $i |
		"$MAIL_STORE" -f a@remote.test --maildir "$box"
	i=$((i + 1))
done
PY=$(python_with imaplib) || PY=$PYTHON3

# settle: directories last changed an hour ago, so their times can be
# trusted (mail-imapd ignores a time less than two seconds old)
settle() { touch -d '1 hour ago' "$box/new" "$box/cur"; }

# imap SCRIPT: run Python with M logged in (not selected)
imap() {
	"$PY" - "$MAIL_IMAPD" "$box" <<PYEOF
import imaplib, os, sys
M = imaplib.IMAP4_stream(sys.argv[1] + " --allow-plaintext")
M.login("bob@example.org", "pw")
box = sys.argv[2]
def disk():
    """UID-less truth: the messages' subjects and flags from the files."""
    out = {}
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(box, sub)):
            body = open(os.path.join(box, sub, name), "rb").read()
            subj = [l for l in body.split(b"\n") if l.startswith(b"Subject: ")][0][9:].decode()
            info = name.split(":2,")[1] if ":2," in name else ""
            out[subj] = "".join(sorted(c for c in info if c in "FS"))
    return out
def seen():
    """The same as the server tells it."""
    typ, data = M.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    out = {}
    for item in data:
        if isinstance(item, tuple):
            subj = item[1].decode().strip()[9:]
            fl = item[0].decode()
            out[subj] = "".join(sorted(c for c, f in (("F", "\\\\Flagged"), ("S", "\\\\Seen")) if f in fl))
    return out
$1
M.logout()
PYEOF
}

settle
out=$(imap '
print(M.select("INBOX")[1][0].decode())
print(seen() == disk())')
is "$out" "30
True" "first SELECT: a full look, all 30 messages"
check "no mail-index while new/ and cur/ were just changed (new/ taken into cur/)" \
	test ! -e "$box/mail-index"
settle
imap 'M.select("INBOX")' >/dev/null
check "mail-index written for settled directories" test -s "$box/mail-index"

out=$(imap '
print(M.select("INBOX")[1][0].decode())
print(seen() == disk())
print(M.uid("search", None, "ALL")[1][0].decode())')
is "$out" "30
True
$(seq -s ' ' 1 30)" "second SELECT from the index: the same messages, UIDs 1 to 30"

# and it was the index: the SELECT opened neither directory
if command -v strace >/dev/null 2>&1; then
	printf 'a login bob@example.org pw\r\nb select INBOX\r\nc logout\r\n' |
		strace -f -e trace=openat -o "$tmp/select.strace" "$MAIL_IMAPD" --allow-plaintext >/dev/null 2>&1
	is "$(grep -c -E '/(cur|new)", O_RDONLY.*O_DIRECTORY' "$tmp/select.strace")" 0 \
		"a SELECT with a good index lists no directory (strace)"
else
	ok 0 "# SKIP strace is not installed"
fi

# a delivery changes new/: the index is set aside, the message seen
printf 'Subject: message 31\n\nbody 31\n' | "$MAIL_STORE" --maildir "$box"
out=$(imap '
print(M.select("INBOX")[1][0].decode())
print(seen() == disk())')
is "$out" "31
True" "after a delivery: 31 messages, the index not believed"

# another client's flags: a rename in cur/ after the index was made
settle
imap 'M.select("INBOX")' >/dev/null
settle
f=$(ls "$box/cur" | head -1)
mv "$box/cur/$f" "$box/cur/${f%%:2,*}:2,FS"
out=$(imap '
M.select("INBOX")
print(seen() == disk())
print(sum(1 for v in seen().values() if v == "FS"))')
is "$out" "True
1" "flags set by another client are seen though an index existed"

# an expunge by another client (a file gone from cur/)
settle
imap 'M.select("INBOX")' >/dev/null
settle
rm -f "$box/cur/$(ls "$box/cur" | sed -n 5p)"
out=$(imap '
print(M.select("INBOX")[1][0].decode())
print(seen() == disk())')
is "$out" "30
True" "a message removed by another client is gone though an index existed"

# the same change made within the same second as the index: stamps of
# fresh directories are never trusted
imap 'M.select("INBOX")' >/dev/null
f=$(ls "$box/cur" | head -1)
mv "$box/cur/$f" "$box/cur/${f%%:2,*}:2,"
out=$(imap 'M.select("INBOX"); print(seen() == disk())')
is "$out" "True" "a change right after the last look is seen"

# a torn or garbage index is ignored, and made again
settle
imap 'M.select("INBOX")' >/dev/null
settle
size=$(stat -c %s "$box/mail-index")
truncate -s $((size / 2)) "$box/mail-index"
out=$(imap 'print(M.select("INBOX")[1][0].decode()); print(seen() == disk())')
is "$out" "30
True" "a torn index is ignored"
settle
head -c 5000 /dev/urandom >"$box/mail-index"
out=$(imap 'print(M.select("INBOX")[1][0].decode()); print(seen() == disk())')
is "$out" "30
True" "a garbage index is ignored"
check "... and made again" grep -q mtidx "$box/mail-index"

# an index that names a path outside the folder is not followed
settle
imap 'M.select("INBOX")' >/dev/null
"$PY" - "$box/mail-index" <<'PYEOF'
import sys
p = sys.argv[1]
data = bytearray(open(p, "rb").read())
i = data.index(b"cur/")
data[i:i + 7] = b"cur/../"
open(p, "wb").write(bytes(data))
PYEOF
out=$(imap '
M.select("INBOX")
typ, data = M.fetch("1", "(BODY.PEEK[])")
print(typ, [d for d in data if isinstance(d, tuple)])')
is "$out" "NO []" "an index naming cur/../ gives no file outside the folder"

# the uid list made again (lost): the index of the old list is not used
settle
imap 'M.select("INBOX")' >/dev/null
v1=$(head -1 "$box/mail-uidlist" | cut -d' ' -f3)
rm "$box/mail-uidlist"
settle
out=$(imap '
typ, data = M.select("INBOX")
print(M.response("UIDVALIDITY")[1][0].decode())')
check "a lost uid list: a new, greater UIDVALIDITY ($v1 -> $out), not the index's" test "$out" -gt "$v1"

# mail-cache: ENVELOPE fetched twice, the second time from the cache,
# the same either way; a garbage cache is started afresh
out=$(imap '
M.select("INBOX")
a = M.fetch("1:*", "(ENVELOPE BODYSTRUCTURE)")[1]
b = M.fetch("1:*", "(ENVELOPE BODYSTRUCTURE)")[1]
print(a == b, len(a))')
is "$out" "True 30" "ENVELOPE and BODYSTRUCTURE the same from the cache"
is "$(grep -c '^E ' "$box/mail-cache")" 30 "... 30 envelopes in mail-cache"
out1=$(imap 'M.select("INBOX"); print(M.fetch("1:*", "(ENVELOPE)")[1])')
printf 'garbage\nE 1 3\nabc\n' >"$box/mail-cache"
out2=$(imap 'M.select("INBOX"); print(M.fetch("1:*", "(ENVELOPE)")[1])')
is "$out2" "$out1" "a garbage mail-cache is not believed"
out=$(imap '
M.select("INBOX")
print(M.search(None, "SUBJECT", "\"message 3\"")[1][0].decode())
print(M.search(None, "FROM", "sender7@")[1][0].decode())')
check "SUBJECT and FROM answered from the cached envelopes" test "$(echo "$out" | wc -w)" -ge 2
rm -f "$box/mail-cache"
out2=$(imap '
M.select("INBOX")
print(M.search(None, "SUBJECT", "\"message 3\"")[1][0].decode())
print(M.search(None, "FROM", "sender7@")[1][0].decode())')
is "$out2" "$out" "... the same as from the files"

done_testing
