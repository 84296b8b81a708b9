#!/bin/sh
# The queue runner delivering locally: accounts through mail-store, alias
# fan-out (each place once), /file and |command targets, delivery_command
# pipelines, exit codes (temporary -> deferred and retried, permanent ->
# bounced), RFC 3464 notices read back with Python's email package,
# expiry, delay warnings, the daemon, two runners at once, a runner killed
# mid-delivery, and damaged queue files.
. "${top_srcdir:-.}/tests/lib.sh"

MAIL_SEND=$top_builddir/mail-send
use_mail_conf "example.org"
cat >>"$tmp/mail.conf" <<EOF
queue_dir = $tmp/queue
hostname = mx.example.org
allow_mail_to_files = yes
allow_mail_to_commands = yes
EOF
ms() { "$MAIL_SEND" "$@"; }
run() { "$MAIL_SEND" --run "$@" 2>>"$tmp/runner.log"; }
for u in bob carol dave; do mu add $u@example.org </dev/null >/dev/null; done

# dsn FILE: the notice's parts as Python's email package reads them:
# "content-type action status final-recipient" per recipient
dsn() {
	"$PYTHON3" - "$1" <<'PY'
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
assert m.get_content_type() == "multipart/report", m.get_content_type()
assert m.get_param("report-type") == "delivery-status"
parts = list(m.iter_parts())
ds = [p for p in parts if p.get_content_type() == "message/delivery-status"][0]
# the delivery-status body is a sequence of header blocks
blocks = ds.get_payload()
for b in blocks[1:]:
    print(b["Action"], b["Status"], b["Final-Recipient"])
print("third:", parts[2].get_content_type())
PY
}

# ---- one account ----
printf 'Subject: first\n\nhello\n' | ms -f alice@remote.test bob
run
ok $? "--run exits 0"
is "$(inbox bob)" 1 "the message is in bob's Maildir"
is "$(queued)" 0 "... and gone from the queue"
is "$(ls "$tmp/queue/state" | wc -l | tr -d ' ')" 0 "... with its state file"
f=$(latest_mail bob)
head -2 "$f" | tr '\n' '|' | grep -q '^Return-Path: <alice@remote.test>|Delivered-To: bob@example.org|$'
ok $? "... mail-store added Return-Path: and Delivered-To:"
mailcheck maildir "$tmp/vmail/example.org/bob/Maildir" >/dev/null 2>&1; ok $? "... Python's mailbox reads the Maildir"
grep -q 'id=.* to=<bob@example.org> status=delivered' "$tmp/runner.log"; ok $? "... and the log says so"

# ---- the default pipeline: mail-filter, then mail-store ----
grep -q '^X-Spam-Status: Unsure, score=' "$f"; ok $? "the default pipeline ran mail-filter: X-Spam-Status (untrained: Unsure)"
grep -q '^X-Virus-Status: Clean$' "$f"; ok $? "... and X-Virus-Status"
printf 'header LOTTERY Subject /lottery/i 10\n' >"$tmp/filter.rules"
set_conf filter_rules "$tmp/filter.rules"
printf 'Subject: You won the LOTTERY\n\nclaim it\n' | ms -f alice@remote.test bob
printf 'Subject: lunch\n\nat noon?\n' | ms -f alice@remote.test bob
b=$(inbox bob)
run
is "$(ls "$tmp/vmail/example.org/bob/Maildir/.Junk/new" 2>/dev/null | wc -l | tr -d ' ')" 1 \
	"mail the filter calls spam goes to the Junk folder"
grep -q '^X-Spam-Flag: YES$' "$tmp/vmail/example.org/bob/Maildir/.Junk/new/"*; ok $? "... flagged"
is "$(inbox bob)" $((b + 1)) "... the other one to INBOX"
set_conf filter no
printf 'Subject: unfiltered LOTTERY\n\nno filter\n' | ms -f alice@remote.test bob
run
grep -L '^X-Spam' "$(latest_mail bob)" | grep -q .; ok $? "filter = no: mail-store alone, no X-Spam fields"
set_conf filter_rules ""
set_conf filter ""

# ---- aliases: each place gets the message once ----
cat >"$tmp/aliases" <<EOF
team: bob, carol, $tmp/team.mbox, "|cat > $tmp/cmd.out; env > $tmp/cmd.env"
everyone: team, dave
EOF
b=$(inbox bob) c=$(inbox carol) d=$(inbox dave)
printf 'Subject: fan-out\n\nhello team\n' | ms -f alice@remote.test team bob everyone
run
is "$(inbox bob)/$(inbox carol)/$(inbox dave)" "$((b + 1))/$((c + 1))/$((d + 1))" \
	"team, bob and everyone: bob, carol and dave get one copy each"
grep -c '^From alice@remote.test ' "$tmp/team.mbox" | grep -qx 1; ok $? "the /file target got it once, as mbox"
grep -qx 'hello team' "$tmp/cmd.out"; ok $? "the |command target read the message"
grep -qx 'SENDER=alice@remote.test' "$tmp/cmd.env"; ok $? "... with SENDER in its environment"
grep -qx 'RECIPIENT=team@example.org' "$tmp/cmd.env"; ok $? "... and RECIPIENT"
is "$(queued)" 0 "the message is finished"

# ---- unknown user: a notice to the sender ----
printf 'Subject: lost\n\nnobody reads this\n' | ms -f bob@example.org nobody@example.org
b=$(inbox bob)
run
is "$(inbox bob)" $((b + 1)) "mail to an unknown user bounces to the sender"
n=$(latest_mail bob)
grep -qx 'Return-Path: <>' "$n"; ok $? "... from the null sender"
grep -qx 'Subject: Undelivered Mail Returned to Sender' "$n"; ok $? "... with a Subject: saying so"
grep -qx 'Auto-Submitted: auto-replied' "$n"; ok $? "... marked Auto-Submitted"
is "$(dsn "$n" | tr '\n' '|')" "failed 5.1.1 rfc822; nobody@example.org|third: message/rfc822|" \
	"... an RFC 3464 report: failed, 5.1.1, the recipient, and the message"
grep -qx 'nobody reads this' "$n"; ok $? "... the original is attached"
is "$(queued)" 0 "the bounced message and its notice are finished"

printf 'Subject: lost2\n\nx\n' | ms -f '<>' nobody@example.org
b=$(inbox bob)
run
is "$(queued)" 0 "a null-sender message to an unknown user is dropped"
is "$(inbox bob)" "$b" "... without a notice to anyone"

printf 'Subject: never\n\nx\n' | ms -f bob@example.org -N never nobody@example.org
run
is "$(inbox bob)" "$b" "NOTIFY=NEVER: no notice"
printf 'Subject: hdrs\n\nthe body stays home\n' | ms -f bob@example.org -R hdrs nobody@example.org
run
n=$(latest_mail bob)
dsn "$n" | grep -x "third: text/rfc822-headers" >/dev/null; ok $? "RET=HDRS: the notice has the header only"
grep -q 'the body stays home' "$n"; [ $? -ne 0 ]; ok $? "... not the body"
# an ENVID as a client may send it to mail-recv, valid xtext
printf 'mail-queue\t1\nsize\t00000000000000000018\narrival\t%s\nsender\tbob@example.org\nenvid\ta+0D+0AX-Evil:+20yes\nrcpt\tnobody@example.org\t\t\n\nSubject: envid\n\nx\n' \
	"$(date +%s)" >"$tmp/queue/msg/1000.M3P999999Q1"
b=$(inbox bob)
run
is "$(inbox bob)" $((b + 1)) "a message with an ENVID bounces"
n=$(latest_mail bob)
grep -q '^X-Evil' "$n"; [ $? -ne 0 ]; ok $? "an ENVID that decodes to a line end does not break the report"
grep -q '^Original-Envelope-Id' "$n"; [ $? -ne 0 ]; ok $? "... it is left out"
printf 'Subject: success\n\nx\n' | ms -f bob@example.org -N success carol
b=$(inbox bob)
run
is "$(inbox bob)" $((b + 1)) "NOTIFY=SUCCESS: a notice of delivery"
is "$(dsn "$(latest_mail bob)" | sed -n 1p)" "delivered 2.0.0 rfc822; carol@example.org" \
	"... Action: delivered"

# ---- delivery_command: a pipeline, stage by stage ----
set_conf delivery_command "sed -e s/hello/HELLO/ | $top_builddir/mail-store"
printf 'Subject: filtered\n\nhello world\n' | ms dave
run
grep -qx 'HELLO world' "$(latest_mail dave)"; ok $? "a delivery_command filter | mail-store pipeline delivers"
# these fail for carol only, so that the notices to bob get through
cat >"$tmp/tempfail" <<EOF
#!/bin/sh
[ "\$RECIPIENT" = carol@example.org ] || exec $top_builddir/mail-store
cat >/dev/null
echo "the disk is resting" >&2
exit 75
EOF
cat >"$tmp/permfail" <<EOF
#!/bin/sh
[ "\$RECIPIENT" = carol@example.org ] || exec $top_builddir/mail-store
cat >/dev/null
echo "no such mailbox here" >&2
exit 67
EOF
cat >"$tmp/half" <<'EOF'
#!/bin/sh
head -c 20
exit 75
EOF
cat >"$tmp/crash" <<'EOF'
#!/bin/sh
kill -SEGV $$
EOF
chmod +x "$tmp/tempfail" "$tmp/permfail" "$tmp/half" "$tmp/crash"

set_conf delivery_command "$tmp/tempfail"
printf 'Subject: later\n\nx\n' | ms -f bob@example.org carol
f=$(newest)
id=$(basename "$f")
run
is "$(queued)" 1 "exit 75: the message stays queued"
grep -q "^deferred	0	\*	[0-9]*	[0-9]*	4.3.0 tempfail: the disk is resting (exit 75)$" "$tmp/queue/state/$id"
ok $? "... its state file says deferred, when to retry, and the program's reason"
ms --list | grep -q "<carol@example.org>  deferred, next try in [0-9]*s: 4.3.0 tempfail: the disk is resting"
ok $? "... --list shows it"
attempts() { grep -c '^deferred	0	\*	' "$tmp/queue/state/$id"; }
lines=$(attempts)
run
is "$(attempts)" "$lines" "a second --run leaves it alone until its retry time"
run --flush
is "$(attempts)" $((lines + 1)) "--flush tries it again"
next1=$(tail -1 "$tmp/queue/state/$id" | cut -f5) at1=$(tail -1 "$tmp/queue/state/$id" | cut -f4)
[ $((next1 - at1)) -ge 590 ]; ok $? "... and the next retry is further away (backoff doubles from 5m)"
set_conf delivery_command ""
run --flush
is "$(queued)" 0 "once the program works, the message is delivered"

set_conf delivery_command "$tmp/permfail"
printf 'Subject: never\n\nx\n' | ms -f bob@example.org carol
run
set_conf delivery_command ""
is "$(queued)" 0 "exit 67: the message is bounced, not kept"
grep -q '5.1.1 permfail: no such mailbox here (exit 67)' "$(latest_mail bob)"
ok $? "... the notice has the program's reason"

set_conf delivery_command "$tmp/half | $top_builddir/mail-store"
c=$(inbox carol)
printf 'Subject: half\n\n%s\n' "$(seq 1 200 | tr '\n' ' ')" | ms -f bob@example.org carol
run
is "$(inbox carol)" "$c" "a first stage that fails half way: the last stage never delivers a part"
is "$(queued)" 1 "... the message waits for a retry"
set_conf delivery_command "$tmp/crash"
run --flush
tail -1 "$tmp/queue/state/$(basename "$(newest)")" | grep -q "^deferred.*killed by signal 11"
ok $? "a program killed by a signal: deferred, never bounced"
set_conf delivery_command ""
run --flush
is "$(inbox carol)" $((c + 1)) "... and delivered whole once the pipeline works"

# ---- expiry and delay warnings ----
set_conf delivery_command "$tmp/tempfail"
set_conf queue_lifetime 0
printf 'Subject: expired\n\nx\n' | ms -f bob@example.org carol
run
set_conf queue_lifetime ""
set_conf delivery_command ""
is "$(queued)" 0 "past queue_lifetime a deferred recipient fails"
is "$(dsn "$(latest_mail bob)" | sed -n 1p)" "failed 4.4.7 rfc822; carol@example.org" \
	"... the notice says 4.4.7, delivery time expired"

set_conf delivery_command "$tmp/tempfail"
set_conf delay_warning 1s
printf 'Subject: slow\n\nx\n' | ms -f bob@example.org carol
sleep 1.2
b=$(inbox bob)
run
is "$(inbox bob)" $((b + 1)) "past delay_warning a deferred message warns its sender"
is "$(dsn "$(latest_mail bob)" | sed -n 1p)" "delayed 4.3.0 rfc822; carol@example.org" \
	"... Action: delayed"
grep -qx 'Subject: Delayed Mail (still being retried)' "$(latest_mail bob)"; ok $? "... with a Subject: saying so"
run --flush
is "$(inbox bob)" $((b + 1)) "... once only"
set_conf delay_warning ""
set_conf delivery_command ""
run --flush
is "$(queued)" 0 "... and the message goes when it can"

# ---- two runners at once never deliver twice ----
cat >"$tmp/slowstore" <<EOF
#!/bin/sh
sleep 0.05
exec $top_builddir/mail-store "\$@"
EOF
chmod +x "$tmp/slowstore"
set_conf delivery_command "$tmp/slowstore"
d=$(inbox dave)
for i in $(seq 1 20); do printf 'Subject: race %s\n\nx\n' "$i" | ms dave; done
run --jobs 3 & r1=$!
run --jobs 3 & r2=$!
wait $r1 $r2
is "$(inbox dave)" $((d + 20)) "two runners with 3 jobs each: 20 messages, 20 deliveries"
is "$(queued)" 0 "... the queue is empty"

# ---- a runner killed mid-delivery loses nothing ----
cat >"$tmp/stuck" <<EOF
#!/bin/sh
touch $tmp/stuck.started
exec sleep 3017
EOF
chmod +x "$tmp/stuck"
set_conf delivery_command "$tmp/stuck"
d=$(inbox dave)
printf 'Subject: killed\n\nx\n' | ms dave
"$MAIL_SEND" --run 2>/dev/null & runner=$!
for i in $(seq 1 100); do [ -f "$tmp/stuck.started" ] && break; sleep 0.05; done
kill -9 $runner
wait $runner 2>/dev/null
is "$(queued)" 1 "kill -9 of the runner mid-delivery: the message is still queued"
sleep 0.3
pgrep -x -f 'sleep 3017' >/dev/null; [ $? -ne 0 ]; ok $? "... and its delivery died with it"
set_conf delivery_command ""
run
is "$(inbox dave)" $((d + 1)) "the next run delivers it, once"

# ---- the daemon ----
"$MAIL_SEND" --daemon 2>"$tmp/daemon.log" & daemon=$!
sleep 0.3
d=$(inbox dave)
printf 'Subject: daemon\n\nx\n' | ms dave
for i in $(seq 1 40); do [ "$(inbox dave)" -gt "$d" ] && break; sleep 0.05; done
is "$(inbox dave)" $((d + 1)) "--daemon delivers a new message within two seconds"
kill -TERM $daemon
wait $daemon
ok $? "... and stops cleanly on SIGTERM (exit 0)"
grep -q 'runner stopped' "$tmp/daemon.log"; ok $? "... saying so"

# ---- a user who may not write the queue: incoming/, picked up ----
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
chmod 711 "$tmp"
chmod 644 "$tmp/mail.conf"
if [ "$(id -u)" -eq 0 ] && as_nobody "$MAIL_SEND" --version >/dev/null 2>&1; then
	n=$(queued)
	printf 'Subject: from nobody\n\nx\n' | as_nobody "$MAIL_SEND" bob
	ok $? "a user who cannot write tmp/ can still send (exit 0)"
	is "$(queued)/$(ls -a "$tmp/queue/incoming" | grep -vc '^\.')" "$n/1" "... the message waits in incoming/"
	stat -c %U "$tmp/queue/incoming/"* | grep -qx nobody; ok $? "... owned by the user"
	setpriv --reuid=daemon --regid=daemon --clear-groups cat "$tmp/queue/incoming/"* >/dev/null 2>&1
	[ $? -ne 0 ]; ok $? "... which other users cannot read"
	as_nobody ls "$tmp/queue/msg" >/dev/null 2>&1
	[ $? -ne 0 ]; ok $? "... nor can they see msg/"
	b=$(inbox bob)
	run
	is "$(inbox bob)" $((b + 1)) "the runner picks it up and delivers it"
	grep -q '^Received: by mx.example.org (mail-toolkit pickup, from userid 65534)' "$(latest_mail bob)"
	ok $? "... with a Received: field naming the user's ID"
	grep -qx 'From: nobody@example.org' "$(latest_mail bob)"; ok $? "... and From: the user"
	printf 'Subject: held\n\nx\n' | ms bob
	id=$(basename "$(newest)")
	ms --hold "$id" >/dev/null
	as_nobody ln -s "$tmp/queue/hold/$id" "$tmp/queue/incoming/9.M1P1Q1" 2>/dev/null ||
		ln -s "$tmp/queue/hold/$id" "$tmp/queue/incoming/9.M1P1Q1"
	b=$(inbox bob)
	run
	is "$(inbox bob)" "$b" "a symbolic link dropped into incoming/ is not followed"
	[ ! -e "$tmp/queue/incoming/9.M1P1Q1" ] && [ ! -L "$tmp/queue/incoming/9.M1P1Q1" ]; ok $? "... and removed"
	ms --delete "$id" >/dev/null
	printf 'mail-queue\t1\nsize\t00000000000000000002\nsender\ta@b.c\nrcpt\tbob@example.org\rRCPT TO:<x@y.z>\t\t\n\nx\n' |
		as_nobody sh -c "cat >'$tmp/queue/incoming/8.M1P1Q1'"
	run
	[ ! -e "$tmp/queue/incoming/8.M1P1Q1" ]; ok $? "a crafted envelope in incoming/ with a CR in an address is refused"
	grep -q 'pickup refused=.*an address mail-send would not have written' "$tmp/runner.log"; ok $? "... and logged"

	# a root runner delivers as delivery_user
	mkdir "$tmp/nobody-mail"
	chown nobody "$tmp/nobody-mail"
	mu add eve@example.org --maildir "$tmp/nobody-mail/eve/" </dev/null >/dev/null
	set_conf delivery_user nobody
	printf 'Subject: as nobody\n\nx\n' | ms eve
	run
	f=$(ls "$tmp/nobody-mail/eve/new/"* 2>/dev/null | head -1)
	[ -n "$f" ] && [ "$(stat -c %U "$f")" = nobody ]
	ok $? "delivery_user: a root runner's mail-store runs as that user"
	set_conf delivery_user root
	expect_exit 78 "delivery_user = root is refused: exit 78" "$MAIL_SEND" --run
	set_conf delivery_user no-such-user-here
	expect_exit 78 "an unknown delivery_user: exit 78" "$MAIL_SEND" --run
	set_conf delivery_user ""
else
	ok 0 "# SKIP not root, or nobody cannot run $MAIL_SEND"
fi
chmod 700 "$tmp"

# ---- damaged queue files ----
printf 'Subject: cut\n\nsome text\n' | ms dave
f=$(newest)
truncate -s -3 "$f"
run
[ ! -f "$f" ]; ok $? "a file shorter than its size line (a crash before the commit) is removed"
grep -q "removed: .*size line says" "$tmp/runner.log"; ok $? "... and the log says why"
printf 'mail-queue\t1\nsize\t00000000000000000002\nfrobnicate\tyes\nsender\ta@b.c\nrcpt\tdave@example.org\t\t\n\nx\n' \
	>"$tmp/queue/msg/1.M1P1Q1"
run
[ -f "$tmp/queue/hold/1.M1P1Q1" ]; ok $? "a file with an envelope line it does not know is put on hold"
old=$tmp/queue/tmp/1000.M1P999999Q1
echo debris >"$old"
touch -d '3 days ago' "$old"
echo fresh >"$tmp/queue/tmp/2000.M1P999999Q1"
echo debris >"$tmp/queue/incoming/.1000.M1P999999Q1"
touch -d '3 days ago' "$tmp/queue/incoming/.1000.M1P999999Q1"
printf 'delivered\t0\t*\t1\t0\tx\n' >"$tmp/queue/state/1000.M2P999999Q1"
run
[ ! -f "$old" ] && [ -f "$tmp/queue/tmp/2000.M1P999999Q1" ]
ok $? "old tmp/ debris whose writer is gone is cleaned; a fresh file stays"
[ ! -f "$tmp/queue/incoming/.1000.M1P999999Q1" ]; ok $? "... so is a half-written file in incoming/"
[ ! -f "$tmp/queue/state/1000.M2P999999Q1" ]; ok $? "... and a state file whose message is gone"

done_testing
