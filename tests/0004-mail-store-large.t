#!/bin/sh
# A 100 MB message goes through in constant memory, byte-exact.
. "${top_srcdir:-.}/tests/lib.sh"

# 100 MiB of CRLF text with From lines to quote, and its expected LF form.
"$PYTHON3" - "$tmp" <<'PY'
import hashlib, sys
d = sys.argv[1]
line = b"The quick brown fox jumps over the lazy dog 0123456789 abcdefghij\r\n"
chunk = line * 1000 + b"From the middle of a body\r\n"
crlf = hashlib.sha256(); lf = hashlib.sha256()
head = b"From: big@example.org\r\nSubject: large\r\n\r\n"
with open(d + "/big", "wb") as f:
    f.write(head)
    lf.update(b"Return-Path: <s@example.org>\n" + head.replace(b"\r\n", b"\n"))
    n = 0
    while n < 100 * 1024 * 1024:
        f.write(chunk); lf.update(chunk.replace(b"\r\n", b"\n")); n += len(chunk)
open(d + "/big.sha", "w").write(lf.hexdigest())
PY

# peak_rss FILE COMMAND...: run COMMAND with stdin from FILE (through a
# pipe when FILE is -pipe-FILE) and print its peak resident memory in KiB,
# as GNU time measures it for that process alone.
peak_rss() {
	_in=$1
	shift
	case $_in in
	-pipe-*) cat "${_in#-pipe-}" | /usr/bin/time -f %M -o "$tmp/rss" "$@" ;;
	*) /usr/bin/time -f %M -o "$tmp/rss" "$@" <"$_in" ;;
	esac && tail -1 "$tmp/rss"
}

limit=32768   # KiB: 32 MiB against a 100 MiB message (ASan builds included)
rss=$(peak_rss "$tmp/big" "$MAIL_STORE" --maildir "$tmp/md" -f s@example.org)
echo "# Maildir delivery peak RSS: $rss KiB"
check "Maildir: 100 MiB message stored in under 32 MiB of memory" test "$rss" -gt 0 -a "$rss" -lt $limit
is "$(mailcheck maildir "$tmp/md")" 1 "Maildir: S= and W= agree with the stored file"
is "$(sha256sum "$tmp"/md/new/* | cut -d' ' -f1)" "$(cat "$tmp/big.sha")" "Maildir: content byte-exact"

rss=$(peak_rss "-pipe-$tmp/big" "$MAIL_STORE" --mbox "$tmp/mbox" -f s@example.org)
echo "# mbox delivery from a pipe peak RSS: $rss KiB"
check "mbox from a pipe: under 32 MiB of memory" test "$rss" -gt 0 -a "$rss" -lt $limit
"$PYTHON3" - "$tmp/mbox" "$(cat "$tmp/big.sha")" <<'PY' >"$tmp/mbox.check"
import hashlib, re, sys
data = open(sys.argv[1], "rb").read()
assert data.startswith(b"From s@example.org ")
body = data[data.index(b"\n") + 1:]
assert body.endswith(b"\n\n")
body = re.sub(rb"(?m)^>(>*From )", rb"\1", body[:-1])
print("same" if hashlib.sha256(body).hexdigest() == sys.argv[2] else "differs")
print(data.count(b"\n>From the middle"))
PY
is "$(head -1 "$tmp/mbox.check")" same "mbox: unquoted content byte-exact"
is "$(tail -1 "$tmp/mbox.check")" "$(grep -c '^From the middle' "$tmp/big")" "mbox: every From line quoted"

done_testing
