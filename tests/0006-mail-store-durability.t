#!/bin/sh
# "exit 0 only after the data is fsync'd where it belongs", read off an
# strace log of real deliveries by tests/syscheck.py.
. "${top_srcdir:-.}/tests/lib.sh"

printf 'Subject: x\r\n\r\nbody\r\n' >"$tmp/m"
# LeakSanitizer cannot run under ptrace; the other tests look for leaks.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
export ASAN_OPTIONS
# trace COMMAND...: run COMMAND (stdin as given) under strace into $tmp/trace
trace() {
	strace -f -qq -o "$tmp/trace" \
		-e trace=openat,write,fsync,link,rename,mkdir,close,exit_group "$@"
}
syscheck() {
	"$PYTHON3" "$top_srcdir/tests/syscheck.py" "$@" >"$tmp/why"
	_rc=$?
	sed 's/^/# /' "$tmp/why"
	return $_rc
}

cd "$tmp" || exit 1
trace "$MAIL_STORE" --maildir new/parents/Maildir <"$tmp/m"
check "first delivery into a new Maildir (and its parents) is durable" syscheck maildir "$tmp/trace"
trace "$MAIL_STORE" --maildir new/parents/Maildir <"$tmp/m"
check "delivery into an existing Maildir is durable" syscheck maildir "$tmp/trace"
trace "$MAIL_STORE" --maildir new/parents/Maildir --folder Lists/dev <"$tmp/m"
check "first delivery into a new folder is durable" syscheck maildir "$tmp/trace"
trace "$MAIL_STORE" --mbox spool/deep/mbox <"$tmp/m"
check "first delivery into a new mbox (and its directories) is durable" syscheck mbox "$tmp/trace" spool/deep/mbox
trace "$MAIL_STORE" --mbox spool/deep/mbox <"$tmp/m"
check "append to an existing mbox is durable" syscheck mbox "$tmp/trace" spool/deep/mbox
cat "$tmp/m" | trace "$MAIL_STORE" --mbox spool/deep/mbox
check "append from a pipe (spooled first) is durable" syscheck mbox "$tmp/trace" spool/deep/mbox

# The checker must be able to fail: a trace with the fsync of new/ removed.
trace "$MAIL_STORE" --maildir new/parents/Maildir <"$tmp/m"
grep -v 'fsync' "$tmp/trace" >"$tmp/trace.bad"
check "the checker catches a delivery without fsync" sh -c "! '$PYTHON3' '$top_srcdir/tests/syscheck.py' maildir '$tmp/trace.bad' >/dev/null"

done_testing
