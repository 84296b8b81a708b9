# lib.sh: TAP helpers for the shell tests. Source it first; it sets
#   $tmp         a scratch directory removed at exit
#   $MAIL_STORE  the mail-store under test
#   $MAIL_USER   the mail-user under test
#   mailcheck    Python's mailbox module as an independent reader
# and provides ok/check/expect_exit/done_testing.

: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${PYTHON3:=python3}"
MAIL_STORE=$top_builddir/mail-store
MAIL_USER=$top_builddir/mail-user
unset MAIL_CONF SENDER RECIPIENT
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mail-test.XXXXXX") || exit 1
servers=
trap 'for _p in $servers; do kill "$_p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
tap_n=0
tap_failed=0

# ok STATUS DESCRIPTION: one test case from a status (0 = pass)
ok() {
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
	fi
}

# check DESCRIPTION COMMAND...: pass when the command succeeds
check() {
	_d=$1
	shift
	if "$@"; then ok 0 "$_d"; else ok 1 "$_d"; fi
}

# expect_exit CODE DESCRIPTION COMMAND...: pass when the command exits CODE
# and, on failure, says why in exactly one line on stderr. stdin is the
# caller's.
expect_exit() {
	_want=$1 _d=$2
	shift 2
	"$@" 2>"$tmp/stderr"
	_got=$?
	_lines=$(wc -l <"$tmp/stderr")
	if [ "$_got" -eq "$_want" ] && { [ "$_want" -eq 0 ] || [ "$_lines" -eq 1 ]; }; then
		ok 0 "$_d"
	else
		ok 1 "$_d"
		echo "# exit $_got (want $_want), stderr:"
		sed 's/^/#   /' "$tmp/stderr"
	fi
}

# stderr_has TEXT DESCRIPTION: the last expect_exit's stderr contains TEXT
stderr_has() {
	if grep -q -- "$1" "$tmp/stderr"; then ok 0 "$2"; else ok 1 "$2"; sed 's/^/#   /' "$tmp/stderr"; fi
}

# mail_conf DOMAINS: a mail.conf for the mail-user tests on stdout: users
# and aliases files and the mail root in $tmp, the local DOMAINS (the
# first is the default domain), no failure delay.
mail_conf() {
	cat <<EOF
users_file = $tmp/users
aliases_file = $tmp/aliases
local_domains = $1
domain = ${1%%,*}
mail_root = $tmp/vmail
auth_failure_delay = 0
EOF
}

# use_mail_conf DOMAINS: write mail_conf to $tmp/mail.conf and export it
use_mail_conf() {
	mail_conf "$1" >"$tmp/mail.conf"
	MAIL_CONF=$tmp/mail.conf
	export MAIL_CONF
}

mu() { "$MAIL_USER" "$@"; }

# start_tcpserver COMMAND...: serve COMMAND with tcpserver on a free
# loopback port, as a real installation does; sets $port. Its stderr (the
# server's log) goes to $tmp/server.log. Stopped when the test exits.
start_tcpserver() {
	port=$("$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	tcpserver -q -H -R -c 20 127.0.0.1 "$port" "$@" 2>>"$tmp/server.log" &
	servers="$servers $!"
	"$PYTHON3" - "$port" <<'PY'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

# stop_tcpserver: stop the servers started so far
stop_tcpserver() {
	for _p in $servers; do kill "$_p" 2>/dev/null; wait "$_p" 2>/dev/null; done
	servers=
}

mailcheck() {
	"$PYTHON3" "$top_srcdir/tests/mailcheck.py" "$@"
}

# same_text "$(cmd)" "expected" DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got:  %s\n#   want: %s\n' "$1" "$2"
	fi
}

# in_parallel N INPUT COMMAND...: start N copies of COMMAND at once, each
# reading INPUT, and wait for all of them.
in_parallel() {
	_n=$1 _in=$2
	shift 2
	while [ "$_n" -gt 0 ]; do
		"$@" <"$_in" &
		_n=$((_n - 1))
	done
	wait
}

# python_with MODULE...: print a Python that imports all the modules:
# $PYTHON3, else the system's, where Debian's python3-* packages live when
# $PYTHON3 is a pyenv or virtualenv one. Fails when neither has them.
python_with() {
	for _py in "$PYTHON3" /usr/bin/python3; do
		if "$_py" -W ignore -c "import $(echo "$@" | tr ' ' ',')" 2>/dev/null; then
			echo "$_py"
			return 0
		fi
	done
	return 1
}

# The queue at $tmp/queue, as the mail-recv and mail-send tests use it:
# queued counts its messages, newest names the file written last.
queued() { ls "$tmp/queue/msg" 2>/dev/null | wc -l | tr -d ' '; }
newest() { ls -t "$tmp/queue/msg/"* | head -1; }
# inbox USER: messages in new/ of USER@example.org's Maildir under the
# mail root of mail_conf; latest_mail USER: the newest of them
inbox() { ls "$tmp/vmail/example.org/$1/Maildir/new" 2>/dev/null | wc -l | tr -d ' '; }
latest_mail() { ls -t "$tmp/vmail/example.org/$1/Maildir/new/"* | head -1; }
# set_conf KEY [VALUE]: set KEY in $tmp/mail.conf, or remove it
set_conf() {
	sed -i "/^$1 =/d" "$tmp/mail.conf"
	[ -z "$2" ] || echo "$1 = $2" >>"$tmp/mail.conf"
}

count_files() {
	find "$1" -mindepth 1 -maxdepth 1 -type f | wc -l | tr -d ' '
}

done_testing() {
	if [ -f "$tmp/server.log" ]; then
		# servers run under tcpserver: their crashes and sanitizer reports
		# land in the log, not in an exit status anyone sees
		if grep -q -e 'AddressSanitizer' -e 'runtime error:' -e 'LeakSanitizer' "$tmp/server.log"; then
			ok 1 "no sanitizer report in the server log"
			grep -A20 -e 'AddressSanitizer' -e 'runtime error:' -e 'LeakSanitizer' "$tmp/server.log" | sed 's/^/#   /' | head -60
		else
			ok 0 "no sanitizer report in the server log"
		fi
	fi
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
