#!/bin/sh
# The deployment examples of contrib/, started as they are written, with
# only their paths moved to the build and $tmp, their ports to free
# loopback ports and their users to ours: openbsd-inetd with
# contrib/inetd/inetd.conf, systemd-socket-activate running each socket
# unit's ExecStart, and daemontools' svscan over the service directories
# with the tcprules of contrib/tcp.smtp. Every service is driven by
# Python's smtplib, imaplib and poplib (STARTTLS, STLS and implicit TLS,
# as each says); the queue is run by the cron line, the systemd unit and
# the resident daemon in turn, and the filter retrained by the cron line.
# The four forms say the same program, flags and port for each service.
. "${top_srcdir:-.}/tests/lib.sh"

C=$top_srcdir/contrib
B=$top_builddir
SERVICES="smtp submission smtps imap imaps pop3 pop3s"
use_mail_conf "example.org"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-subj /CN=localhost -days 2 2>/dev/null
ok $? "a self-signed certificate"
mkdir -p "$tmp/peer" "$tmp/log" "$tmp/sbin"
"$PYTHON3" "$top_srcdir/tests/smtppeer.py" "$tmp/peer/port" "$tmp/peer" &
servers="$servers $!"
for _i in $(seq 1 100); do [ -s "$tmp/peer/port" ] && break; sleep 0.05; done
cat >>"$tmp/mail.conf" <<EOF
queue_dir = $tmp/queue
hostname = mx.example.org
tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem
routes = remote.test=127.0.0.1:$(cat "$tmp/peer/port")
EOF
echo pw | mu add bob@example.org --password-stdin >/dev/null
bobdir=$tmp/vmail/example.org/bob
printf 'Subject: welcome\n\nhello\n' | "$MAIL_STORE" --maildir "$bobdir/Maildir"

# svscan's services stop before lib.sh's trap removes $tmp
sv_stop() {
	[ -d "$tmp/service" ] || return 0
	for _p in $svscan; do kill "$_p" 2>/dev/null; wait "$_p" 2>/dev/null; done
	svscan=
	svc -dx "$tmp/service"/* 2>/dev/null
	svc -dx "$tmp/service"/*/log 2>/dev/null
	for _i in $(seq 1 100); do
		_up=0
		for _d in "$tmp/service"/* "$tmp/service"/*/log; do svok "$_d" 2>/dev/null && _up=1; done
		[ "$_up" -eq 0 ] && break
		sleep 0.05
	done
}
svscan=
trap 'sv_stop; for _p in $servers; do kill "$_p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

# skip REASON: a test case that cannot run here
skip() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n # skip $1"
}
# wait_ports PORT...: until each port takes connections (5 s at most)
wait_ports() {
	"$PYTHON3" - "$@" <<'PY'
import socket, sys, time
for p in sys.argv[1:]:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", int(p)), 1).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        sys.exit(1)
PY
}
# new_ports: a free port in $port_NAME for each service
new_ports() {
	set -- $("$PYTHON3" -c '
import socket
ss = [socket.socket() for _ in range(7)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
	for _s in $SERVICES; do eval "port_$_s=$1"; shift; done
}
all_ports() {
	for _s in $SERVICES; do eval "echo \$port_$_s"; done
}
# std_port NAME: the port of a service; inetd_name NAME: its name in
# /etc/services, as inetd.conf and xinetd.conf say it
std_port() {
	case $1 in
	smtp) echo 25 ;; submission) echo 587 ;; smtps) echo 465 ;; imap) echo 143 ;;
	imaps) echo 993 ;; pop3) echo 110 ;; pop3s) echo 995 ;;
	esac
}
inetd_name() {
	case $1 in
	smtps) echo submissions ;; imap) echo imap2 ;; *) echo "$1" ;;
	esac
}
# deployed FILE: a contrib file with its paths moved into the build
deployed() {
	sed -e "s|/usr/local/bin/|$B/|g" -e "s|/usr/local/sbin/|$tmp/sbin/|g" \
		-e "s|/var/log/mail-toolkit|$tmp/log|g" -e "s|/var/vmail/|$tmp/vmail/|g" \
		-e "s|/etc/tcp.smtp|$tmp/tcp.smtp|g" "$1"
}
# unit_key FILE KEY: the value of KEY in a systemd unit file
unit_key() { sed -n "s/^$2=//p" "$1"; }

# client KIND,PORT[,ARG...]...: a session each, as a mail client has it
# (one Python for all: its start is slow); prints a line per session,
# "sent", "login N" (N messages in INBOX), "refused CODE" or the error
client() {
	"$PYTHON3" - "$@" <<'PY'
import imaplib, poplib, smtplib, ssl, sys
H, USER, PW = "127.0.0.1", "bob@example.org", "pw"
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
msg = b"Subject: deployed\r\n\r\nhello\r\n"

def session(kind, port, *args):
    if kind == "smtp":
        s = smtplib.SMTP(H, port, timeout=10)
        s.sendmail(args[0], [args[1]], msg)
        s.quit()
        return "sent"
    if kind in ("submission", "smtps"):
        if kind == "smtps":
            s = smtplib.SMTP_SSL(H, port, context=ctx, timeout=10)
        else:
            s = smtplib.SMTP(H, port, timeout=10)
            s.starttls(context=ctx)
        s.login(USER, PW)
        s.sendmail(USER, [args[0]], msg)
        s.quit()
        return "sent"
    if kind in ("imap", "imaps"):
        if kind == "imaps":
            m = imaplib.IMAP4_SSL(H, port, ssl_context=ctx, timeout=10)
        else:
            m = imaplib.IMAP4(H, port, timeout=10)
            m.starttls(ctx)
        m.login(USER, PW)
        typ, data = m.select("INBOX")
        m.logout()
        return "login " + data[0].decode()
    if kind in ("pop3", "pop3s"):
        if kind == "pop3s":
            p = poplib.POP3_SSL(H, port, context=ctx, timeout=10)
        else:
            p = poplib.POP3(H, port, timeout=10)
            p.stls(ctx)
        p.user(USER)
        p.pass_(PW)
        n = p.stat()[0]
        p.quit()
        return "login %d" % n

for spec in sys.argv[1:]:
    kind, port, *args = spec.split(",")
    try:
        print(session(kind, int(port), *args), flush=True)
    except smtplib.SMTPRecipientsRefused as e:
        print("refused", list(e.recipients.values())[0][0], flush=True)
    except Exception as e:
        print("error", type(e).__name__, e, flush=True)
PY
}
inbox_n() { ls "$bobdir/Maildir/new" "$bobdir/Maildir/cur" 2>/dev/null | grep -c ,S=; }
peer_n() { ls "$tmp/peer" | grep -c '^msg\.'; }
# services LABEL: every service at its $port_NAME, with a real client
services() {
	_q=$(queued)
	_n=$(inbox_n)
	client "smtp,$port_smtp,alice@remote.test,bob@example.org" \
		"submission,$port_submission,carol@remote.test" "smtps,$port_smtps,carol@remote.test" \
		"imap,$port_imap" "imaps,$port_imaps" "pop3,$port_pop3" "pop3s,$port_pop3s" >"$tmp/clients"
	is "$(sed -n 1p "$tmp/clients")" sent "$1 smtp: a message for a local account"
	is "$(sed -n 2p "$tmp/clients")" sent "$1 submission: STARTTLS, AUTH, to a remote domain"
	is "$(sed -n 3p "$tmp/clients")" sent "$1 smtps: implicit TLS, AUTH, to a remote domain"
	is "$(queued)" $((_q + 3)) "... all three queued"
	_i=4
	for _s in imap imaps pop3 pop3s; do
		is "$(sed -n ${_i}p "$tmp/clients")" "login $_n" "$1 $_s: login, INBOX has $_n"
		_i=$((_i + 1))
	done
}

# ---- the four forms agree: program, flags and port of each service ----
for s in $SERVICES; do
	want="$(std_port $s) $(sed -n 's|^ExecStart=/usr/local/bin/||p' "$C/systemd/mail-$s@.service")"
	is "$(unit_key "$C/systemd/mail-$s.socket" ListenStream) $(unit_key "$C/systemd/mail-$s@.service" ExecStart | sed 's|^/usr/local/bin/||')" \
		"$want" "systemd mail-$s: the socket's port and the service's ExecStart"
	is "$(awk -v n="$(inetd_name $s)" '$1 == n { $1 = $2 = $3 = $4 = $5 = $6 = $7 = ""; print }' "$C/inetd/inetd.conf" | sed 's/^ *//')" \
		"$(echo "$want" | cut -d' ' -f2-)" "inetd.conf $(inetd_name $s): the same program and flags"
	is "$(awk -v n="$(inetd_name $s)" '$1 == "service" { on = ($2 == n) } on && $1 == "port" { p = $3 }
		on && $1 == "server_args" { $1 = ""; $2 = ""; a = $0 } END { print p a }' "$C/inetd/xinetd.conf" | tr -s ' ')" \
		"$want" "xinetd.conf $(inetd_name $s): the same port, program and flags"
	is "$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$C/service/mail-$s/run" | sed -n 's/^exec tcpserver.* 0 \([0-9]*\)[[:space:]]*\/usr\/local\/bin\//\1 /p')" \
		"$want" "service/mail-$s/run: the same port, program and flags"
done
for f in "$C"/service/*/run "$C"/service/*/log/run "$C/inetd/mail-inetd"; do
	check "${f#"$C/"} is an executable sh script" sh -c "test -x '$f' && sh -n '$f'"
done
for s in $SERVICES; do
	is "$(unit_key "$C/systemd/mail-$s.socket" Accept)/$(unit_key "$C/systemd/mail-$s@.service" StandardInput)/$(unit_key "$C/systemd/mail-$s@.service" StandardOutput)/$(unit_key "$C/systemd/mail-$s@.service" StandardError)" \
		"yes/socket/socket/journal" "mail-$s: Accept=yes, the connection on stdin and stdout, the log in the journal"
done
if command -v systemd-analyze >/dev/null; then
	mkdir "$tmp/units"
	for f in "$C"/systemd/*; do deployed "$f" >"$tmp/units/${f##*/}"; done
	out=$(cd "$tmp/units" && systemd-analyze verify --man=no ./* 2>&1)
	ok $? "systemd-analyze verify: every unit"
	is "$out" "" "... without a warning"
else
	skip "systemd-analyze is not installed"
fi

# the mail.conf of contrib/README, its paths moved: every program takes it
sed -n '/^    # \/usr\/local\/etc\/mail.conf$/,/^$/p' "$C/README" | sed 's/^    //' |
	sed -e "s|/etc/ssl/mail|$tmp/readme|" -e "s|/usr/local/etc/mail/|$tmp/readme-|" \
		-e "s|/var/vmail|$tmp/readme-vmail|" -e "s|/var/spool/mail-toolkit|$tmp/readme-queue|" >"$tmp/readme.conf"
cp "$tmp/cert.pem" "$tmp/readme.pem"
cp "$tmp/key.pem" "$tmp/readme.key"
is "$(grep -c ' = ' "$tmp/readme.conf")" 9 "contrib/README has a mail.conf of nine settings"
printf 'QUIT\r\n' | "$B/mail-recv" --config "$tmp/readme.conf" >/dev/null 2>"$tmp/stderr"
ok $? "... which mail-recv takes"
printf 'QUIT\r\n' | "$B/mail-pop3d" --config "$tmp/readme.conf" >/dev/null 2>>"$tmp/stderr"
ok $? "... mail-pop3d too"
printf 'a LOGOUT\r\n' | "$B/mail-imapd" --config "$tmp/readme.conf" >/dev/null 2>>"$tmp/stderr"
ok $? "... and mail-imapd"
"$B/mail-send" --config "$tmp/readme.conf" --list >/dev/null 2>>"$tmp/stderr"
ok $? "... and mail-send"

# ---- tcprules: who gets RELAYCLIENT ----
tcprules "$tmp/tcp.smtp.cdb" "$tmp/tcp.smtp.tmp" <"$C/tcp.smtp"
ok $? "tcprules compiles contrib/tcp.smtp as its comment says"
for ip in 127.0.0.1 10.1.2.3 172.16.0.9 172.31.255.1 192.168.1.20; do
	TCPREMOTEIP=$ip tcprulescheck "$tmp/tcp.smtp.cdb" | grep -qx 'set environment variable RELAYCLIENT='
	ok $? "$ip gets RELAYCLIENT"
done
for ip in 172.32.0.1 192.0.2.7 11.0.0.1; do
	out=$(TCPREMOTEIP=$ip tcprulescheck "$tmp/tcp.smtp.cdb")
	is "$(printf '%s\n' "$out" | grep -c RELAYCLIENT)/$(printf '%s\n' "$out" | tail -1)" \
		"0/allow connection" "$ip may connect, without RELAYCLIENT"
done

# ---- inetd: contrib/inetd/inetd.conf under openbsd-inetd ----
INETD=$(command -v inetd || echo /usr/sbin/inetd)
ipid=$(cat /run/inetd.pid 2>/dev/null)
if [ ! -x "$INETD" ]; then
	skip "inetd (openbsd-inetd) is not installed"
elif [ -n "$ipid" ] && kill -0 "$ipid" 2>/dev/null; then
	# a second inetd would take over the system one's /run/inetd.pid
	skip "a system inetd runs (pid $ipid)"
else
	deployed "$C/inetd/mail-inetd" >"$tmp/sbin/mail-inetd"
	chmod 755 "$tmp/sbin/mail-inetd"
	new_ports
	me=$(id -un)
	for s in $SERVICES; do
		eval "p=\$port_$s"
		deployed "$C/inetd/inetd.conf" |
			awk -v n="$(inetd_name $s)" -v a="127.0.0.1:$p" -v u="$me" '$1 == n { $1 = a; $5 = u; print }'
	done >"$tmp/inetd.conf"
	is "$(grep -c "nowait.*$tmp/sbin/mail-inetd mail-inetd mail-" "$tmp/inetd.conf")" 7 "an inetd.conf from contrib's, seven services"
	env -u NOTIFY_SOCKET MAIL_CONF="$tmp/mail.conf" "$INETD" -i "$tmp/inetd.conf" 2>>"$tmp/inetd.log" &
	inetd=$!
	servers="$servers $inetd"
	wait_ports $(all_ports)
	ok $? "inetd -i listens on the seven ports"
	services inetd
	is "$(client "smtp,$port_smtp,alice@remote.test,x@remote.test")" "refused 554" \
		"inetd smtp: no RELAYCLIENT, no relaying"
	grep -q 'mail-recv: .*from=<alice@remote.test>' "$tmp/log/mail-recv.log"
	ok $? "mail-inetd: mail-recv's log in its own file"
	grep -q 'user=bob@example.org' "$tmp/log/mail-imapd.log" && grep -q 'user=bob@example.org' "$tmp/log/mail-pop3d.log"
	ok $? "... mail-imapd's and mail-pop3d's too"
	kill "$inetd"
	wait "$inetd" 2>/dev/null
	servers=$(echo "$servers" | sed "s/ $inetd\$//")
	test ! -e /run/inetd.pid
	ok $? "inetd stopped, without leaving a pid file behind"
fi

# ---- cron: the queue run, and retraining ----
cron_line() { deployed "$C/cron/mail-toolkit" | awk -v m="$1" '!/^#/ && index($0, m) { $1 = $2 = $3 = $4 = $5 = $6 = ""; print }'; }
# run_cron COMMAND: as cron runs it, with the file's PATH
cron_path=$(sed -n 's/^PATH=//p' "$C/cron/mail-toolkit" | sed "s|/usr/local/bin|$B|")
run_cron() { env -i PATH="$cron_path" HOME="$tmp" MAIL_CONF="$tmp/mail.conf" sh -c "$1" 2>>"$tmp/runner.log"; }
n=$(inbox_n) pn=$(peer_n)
line=$(cron_line 'mail-send --run')
is "$line" "      mail-send --run" "the cron line runs mail-send --run"
run_cron "$line"
ok $? "... which exits 0"
is "$(queued)" 0 "... and empties the queue"
is "$(inbox_n)" $((n + 1)) "... into bob's Maildir"
is "$(peer_n)" $((pn + 2)) "... and to the remote domain's MX"

# ---- systemd: each socket unit's ExecStart under systemd-socket-activate ----
SSA=$(command -v systemd-socket-activate || echo /lib/systemd/systemd-socket-activate)
if [ -x "$SSA" ]; then
	new_ports
	for s in $SERVICES; do
		eval "p=\$port_$s"
		exec_start=$(deployed "$C/systemd/mail-$s@.service" | sed -n 's/^ExecStart=//p')
		# shellcheck disable=SC2086 # the unit's words, as systemd splits them
		"$SSA" --inetd -a -l "127.0.0.1:$p" -E MAIL_CONF="$tmp/mail.conf" $exec_start 2>>"$tmp/server.log" &
		servers="$servers $!"
	done
	wait_ports $(all_ports)
	ok $? "systemd-socket-activate --inetd -a: the seven ExecStart lines listen"
	services systemd
	is "$(client "smtp,$port_smtp,alice@remote.test,x@remote.test")" "refused 554" \
		"systemd smtp: no RELAYCLIENT, no relaying"
	n=$(inbox_n) pn=$(peer_n)
	exec_start=$(deployed "$C/systemd/mail-send-run.service" | sed -n 's/^ExecStart=//p')
	# shellcheck disable=SC2086
	env MAIL_CONF="$tmp/mail.conf" $exec_start 2>>"$tmp/runner.log"
	ok $? "mail-send-run.service's ExecStart exits 0"
	is "$(queued)/$(inbox_n)/$(peer_n)" "0/$((n + 1))/$((pn + 2))" "... and delivers the queue"
	is "$(unit_key "$C/systemd/mail-send-run.service" Type)" oneshot "... a oneshot service"
	grep -q '^OnUnitActiveSec=5min$' "$C/systemd/mail-send-run.timer"; ok $? "... which its timer starts every five minutes"
else
	skip "systemd-socket-activate is not installed (the systemd package)"
fi

# ---- daemontools: svscan over the service directories ----
if command -v svscan >/dev/null && command -v multilog >/dev/null; then
	new_ports
	mkdir "$tmp/service"
	for s in $SERVICES send; do
		d=$tmp/service/mail-$s
		mkdir -p "$d/log"
		eval "p=\${port_$s:-}"
		deployed "$C/service/mail-$s/run" | sed -e "s/ 0 $(std_port $s) / 127.0.0.1 $p /" \
			-e "s/vmail/$(id -un)/g" >"$d/run"
		if [ "$(id -u)" -ne 0 ]; then
			# only root may change its groups
			sed -i -e 's/-u "$(id -u [^)]*)" -g "$(id -g [^)]*)" //' -e 's/setuidgid [^ ]* //' "$d/run"
		fi
		cp "$C/service/mail-$s/log/run" "$d/log/run"
		chmod 755 "$d/run" "$d/log/run"
	done
	# the runner waits (daemontools' down file) while the queue is counted
	touch "$tmp/service/mail-send/down"
	MAIL_CONF=$tmp/mail.conf svscan "$tmp/service" 2>>"$tmp/svscan.log" &
	svscan=$!
	wait_ports $(all_ports)
	ok $? "svscan: the seven tcpservers listen"
	services daemontools
	pn=$(peer_n)
	is "$(client "smtp,$port_smtp,alice@remote.test,x@remote.test")" sent \
		"daemontools smtp: 127.0.0.1 gets RELAYCLIENT from tcp.smtp.cdb and may relay"
	sed '/^127\./d' "$C/tcp.smtp" | tcprules "$tmp/tcp.smtp.cdb" "$tmp/tcp.smtp.tmp"
	is "$(client "smtp,$port_smtp,alice@remote.test,y@remote.test")" "refused 554" \
		"... and without the rule for 127. it may not"
	tcprules "$tmp/tcp.smtp.cdb" "$tmp/tcp.smtp.tmp" <"$C/tcp.smtp"
	svc -u "$tmp/service/mail-send"
	# mail-send --daemon delivers all that at once
	for _i in $(seq 1 100); do
		[ "$(queued)" -eq 0 ] && [ "$(peer_n)" -eq $((pn + 3)) ] && break
		sleep 0.1
	done
	is "$(queued)/$(peer_n)" "0/$((pn + 3))" "the mail-send service delivers the queue, the relayed message too"
	grep -q 'id=.* to=<bob@example.org> status=delivered' "$tmp/service/mail-send/log/main/current"
	ok $? "... its log in multilog's log/main/current"
	grep -q '^@4000[0-9a-f]* tcpserver: status: ' "$tmp/service/mail-smtp/log/main/current" &&
		grep -q '^@4000[0-9a-f]* mail-recv: ' "$tmp/service/mail-smtp/log/main/current"
	ok $? "mail-smtp's log: tcpserver's and mail-recv's lines, time-stamped"
	sv_stop
	is "$(for d in "$tmp/service"/* "$tmp/service"/*/log; do svok "$d" 2>/dev/null && echo "$d"; done)" "" \
		"svc -dx stops every service and its log"
	"$PYTHON3" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port_smtp" 2>/dev/null
	[ $? -ne 0 ]; ok $? "... and nothing listens any more"
else
	skip "daemontools (svscan, multilog) is not installed"
fi

# ---- cron: retraining the filter from Junk and read mail ----
printf 'X-Spam-Flag: YES\nSubject: pills\n\ncheap pills\n' | "$MAIL_STORE" --maildir "$bobdir/Maildir"
line=$(cron_line 'mail-filter')
run_cron "$line"
ok $? "the retraining cron line exits 0"
db=$bobdir/.mail-filter.lmdb
out=$("$B/mail-filter" -v -d "$db" --train spam "$bobdir/Maildir/.Junk" 2>&1)
is "$out" "mail-filter: learnt 0 messages as spam, 1 unchanged" "... it learnt Junk as spam"
out=$("$B/mail-filter" -v -d "$db" --train ham "$bobdir/Maildir/cur" 2>&1)
is "$out" "mail-filter: learnt 0 messages as ham, $(ls "$bobdir/Maildir/cur" | wc -l | tr -d ' ') unchanged" \
	"... and what was read in INBOX as ham"

done_testing
