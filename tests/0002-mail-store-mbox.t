#!/bin/sh
# mail-store into mboxrd files: quoting, From_ lines, locking, rollback.
. "${top_srcdir:-.}/tests/lib.sh"

mb=$tmp/mbox
printf 'From: a@example.org\r\nSubject: one\r\n\r\nFrom here\r\n>From there\r\n>>From x\r\nend' >"$tmp/m1"
printf 'Subject: two\n\nsecond\n' >"$tmp/m2"

expect_exit 0 "deliver from a file" "$MAIL_STORE" --mbox "$mb" -f s@example.org -r u@example.net <"$tmp/m1"
expect_exit 0 "deliver from a pipe, null sender" sh -c "cat '$tmp/m2' | '$MAIL_STORE' --mbox '$mb' -f ''"
is "$(mailcheck mbox "$mb")" 2 "mailbox.mbox reads two messages"
"$PYTHON3" - "$mb" <<'PY' >"$tmp/fromline"
import calendar, mailbox, sys, time
line = mailbox.mbox(sys.argv[1], create=False).get_message(0).get_from()
who, date = line.split(" ", 1)
t = calendar.timegm(time.strptime(date, "%a %b %d %H:%M:%S %Y"))
print(who, "utc" if abs(time.time() - t) < 300 else "wrong time: " + date)
PY
is "$(cat "$tmp/fromline")" "s@example.org utc" "From_ line has the sender and the UTC date"
check "null sender is MAILER-DAEMON" sh -c "'$PYTHON3' '$top_srcdir/tests/mailcheck.py' mbox-from '$mb' 1 | grep -q '^MAILER-DAEMON '"
check "mboxrd: From quoted" grep -q '^>From here$' "$mb"
check "mboxrd: >From quoted" grep -q '^>>From there$' "$mb"
check "mboxrd: >>From quoted" grep -q '^>>>From x$' "$mb"
is "$(mailcheck mbox-get "$mb" 0 | od -c)" \
   "$(printf 'Return-Path: <s@example.org>\nDelivered-To: u@example.net\nFrom: a@example.org\nSubject: one\n\nFrom here\n>From there\n>>From x\nend\n' | od -c)" \
   "unquoted message equals the input with LF line ends"
is "$(tail -c 8 "$mb" | od -c | head -1)" "$(printf 'second\n\n' | od -c | head -1)" "each message ends with a blank line"
is "$(stat -c %a "$mb")" 600 "new mbox is mode 0600"

# An mbox whose last message lacks the blank line (or the newline) is padded.
printf 'From x@y Thu Jan  1 00:00:00 1970\nSubject: old\n\nno newline' >"$tmp/pad"
"$MAIL_STORE" --mbox "$tmp/pad" <"$tmp/m2"
is "$(mailcheck mbox "$tmp/pad")" 2 "delivery after a message without final newline"
check "the old message is intact" sh -c "'$PYTHON3' '$top_srcdir/tests/mailcheck.py' mbox-get '$tmp/pad' 0 | tail -1 | grep -qx 'no newline'"

# Locks: a held fcntl lock and a fresh dotlock make us wait, then give up (75).
cp "$mb" "$tmp/before"
"$PYTHON3" -c '
import fcntl, sys, time
f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close(); time.sleep(4)' "$mb" "$tmp/locked" &
holder=$!
while [ ! -e "$tmp/locked" ]; do sleep 0.05; done
expect_exit 75 "fcntl lock held elsewhere: timeout is a temporary failure" "$MAIL_STORE" --mbox "$mb" --lock-timeout 1 <"$tmp/m2"
stderr_has "lock" "the reason names the lock"
check "mbox unchanged" cmp -s "$mb" "$tmp/before"
wait $holder
expect_exit 0 "delivers once the lock is released" "$MAIL_STORE" --mbox "$mb" --lock-timeout 1 <"$tmp/m2"

touch "$mb.lock"
expect_exit 75 "fresh dotlock: timeout" "$MAIL_STORE" --mbox "$mb" --lock-timeout 1 <"$tmp/m2"
touch -d '10 minutes ago' "$mb.lock"
expect_exit 0 "stale dotlock (10 minutes) is broken" "$MAIL_STORE" --mbox "$mb" --lock-timeout 1 <"$tmp/m2"
check "our dotlock is removed after delivery" test ! -e "$mb.lock"
check "no lock debris" test "$(ls "$tmp" | grep -c 'mbox\.lock')" -eq 0
is "$(mailcheck mbox "$mb")" 4 "four messages"

# Concurrent deliveries serialise on the locks.
in_parallel 10 "$tmp/m1" "$MAIL_STORE" --mbox "$tmp/conc"
is "$(mailcheck mbox "$tmp/conc")" 10 "10 concurrent deliveries, 10 messages"

# Refusals: symlink, FIFO, hard link.
ln -s "$tmp/target" "$tmp/link"
expect_exit 77 "symlinked mbox refused" "$MAIL_STORE" --mbox "$tmp/link" <"$tmp/m2"
check "symlink target not created" test ! -e "$tmp/target"
mkfifo "$tmp/fifo"
mkdir "$tmp/dir"
expect_exit 77 "directory at the mbox path refused" "$MAIL_STORE" --mbox "$tmp/dir" <"$tmp/m2"
expect_exit 77 "FIFO refused" "$MAIL_STORE" --mbox "$tmp/fifo" <"$tmp/m2"
ln "$tmp/pad" "$tmp/hard"
expect_exit 77 "hard-linked mbox refused" "$MAIL_STORE" --mbox "$tmp/hard" <"$tmp/m2"
expect_exit 64 "--folder needs a Maildir" "$MAIL_STORE" --mbox "$mb" --folder x <"$tmp/m2"
expect_exit 64 "--quota needs a Maildir" "$MAIL_STORE" --mbox "$mb" --quota 1M <"$tmp/m2"

# A write that fails half-way (RLIMIT_FSIZE: EFBIG, as a full disk would)
# is undone: the mbox keeps its exact old content.
head -c 300000 /dev/zero | tr '\0' 'y' | fold -w 76 | sed '1i\
Subject: big\
' >"$tmp/big"
size=$(stat -c %s "$mb")
cp "$mb" "$tmp/before"
expect_exit 75 "append beyond RLIMIT_FSIZE fails temporarily" prlimit --fsize=$((size + 100000)) "$MAIL_STORE" --mbox "$mb" <"$tmp/big"
check "mbox truncated back to its exact old content" cmp -s "$mb" "$tmp/before"
is "$(mailcheck mbox "$mb")" 4 "still four messages"
expect_exit 75 "Maildir write beyond RLIMIT_FSIZE fails temporarily" prlimit --fsize=100000 "$MAIL_STORE" --maildir "$tmp/md" <"$tmp/big"
is "$(count_files "$tmp/md/new")$(count_files "$tmp/md/tmp")" 00 "nothing left in new/ or tmp/"

# A real full file system, where this machine lets us mount a tiny tmpfs.
if mkdir "$tmp/tiny" && mount -t tmpfs -o size=256k tmpfs "$tmp/tiny" 2>/dev/null; then
	"$MAIL_STORE" --mbox "$tmp/tiny/mbox" <"$tmp/m2"
	cp "$tmp/tiny/mbox" "$tmp/before"
	expect_exit 75 "ENOSPC on tmpfs fails temporarily" "$MAIL_STORE" --mbox "$tmp/tiny/mbox" <"$tmp/big"
	check "mbox on the full disk keeps its old content" cmp -s "$tmp/tiny/mbox" "$tmp/before"
	expect_exit 75 "ENOSPC in a Maildir fails temporarily" "$MAIL_STORE" --maildir "$tmp/tiny/Maildir" <"$tmp/big"
	is "$(count_files "$tmp/tiny/Maildir/new")$(count_files "$tmp/tiny/Maildir/tmp")" 00 "nothing left in the full Maildir"
	umount "$tmp/tiny"
else
	echo "# no tmpfs mount here (needs root); RLIMIT_FSIZE cases above cover the rollback"
fi

done_testing
