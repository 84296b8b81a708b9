#!/bin/sh
# mail-imapd under tcpserver, driven by real third-party clients: mbsync
# (isync) syncing a local Maildir both ways over IMAPS (SASL) and
# STARTTLS (LOGIN): pull with flags, flag changes, APPEND, deletions, new
# deliveries, folders, an idle re-sync; curl (imap:// with STARTTLS and
# imaps://: LIST, EXAMINE, ;UID= fetches, SEARCH, APPEND, STORE, AUTH=PLAIN),
# neomutt in batch mode on a pseudo-terminal (save, flag, delete and
# expunge) and gnutls-cli's STARTTLS. Messages are compared byte for byte
# with the server's files, CR LF turned into LF.
. "${top_srcdir:-.}/tests/lib.sh"

MAIL_IMAPD=$top_builddir/mail-imapd
use_mail_conf "example.org"
echo pw | mu add bob@example.org --password-stdin >/dev/null
echo pw2 | mu add carol@example.org --password-stdin >/dev/null
echo pw3 | mu add dave@example.org --password-stdin >/dev/null
# clients check the name: localhost (isync 1.4 matches no IP addresses)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-subj /CN=localhost -addext "subjectAltName=DNS:localhost" -days 2 2>/dev/null
ok $? "a self-signed certificate for localhost"
TLS="--cert $tmp/cert.pem --key $tmp/key.pem"
bobdir=$tmp/vmail/example.org/bob/Maildir
caroldir=$tmp/vmail/example.org/carol/Maildir
davedir=$tmp/vmail/example.org/dave/Maildir
store() { "$MAIL_STORE" -f alice@remote.test "$@"; }

# tree DIR server|local: a Maildir tree as "folder sha flags subject"
# lines, sorted: the server's Maildir++ (.Work.Reports) or mbsync's
# verbatim layout (Work/Reports, INBOX in DIR/INBOX). Contents are
# hashed with CR LF as LF and without the X-TUID: header mbsync adds
# to every message it copies (its own bookkeeping, isync 1.4).
tree() {
	"$PYTHON3" - "$@" <<'PY'
import hashlib, os, re, sys
root, kind = sys.argv[1], sys.argv[2]
def folders():
    if kind == "server":
        yield "INBOX", root
        for d in sorted(os.listdir(root)):
            if d.startswith(".") and os.path.isdir(os.path.join(root, d, "cur")):
                yield d[1:], os.path.join(root, d)
    else:
        for dp, dn, fn in os.walk(root):
            if "cur" in dn:
                yield os.path.relpath(dp, root).replace("/", "."), dp
out = []
for name, d in folders():
    for sub in ("cur", "new"):
        for f in os.listdir(os.path.join(d, sub)):
            flags = f.split(":2,", 1)[1] if ":2," in f else ""
            data = open(os.path.join(d, sub, f), "rb").read().replace(b"\r\n", b"\n")
            head, sep, body = data.partition(b"\n\n")
            head = re.sub(rb"(?m)^X-TUID: [A-Za-z0-9+/]{12}\n", b"", head + b"\n")[:-1]
            data = head + sep + body
            m = re.search(rb"^Subject: (.*)$", data, re.M)
            subj = m.group(1).decode() if m else "-"
            out.append("%s %s %s %s" % (name, hashlib.sha1(data).hexdigest()[:12], flags or "-", subj))
print("\n".join(sorted(out)))
PY
}
# file_of DIR SUBJECT: the one message file under DIR with that subject
file_of() {
	grep -rlx --exclude='.*' --exclude='mail-*' -e "Subject: $2" "$1" 2>/dev/null
}
# same_bytes A B: the two files are equal once CR LF is LF and without
# mbsync's X-TUID: header (see tree)
same_bytes() {
	[ -n "$1" ] && [ -n "$2" ] && [ -f "$1" ] && [ -f "$2" ] || return 1
	norm "$1" >"$tmp/a.cmp" && norm "$2" >"$tmp/b.cmp" && cmp -s "$tmp/a.cmp" "$tmp/b.cmp"
}
# same_msg A B DESCRIPTION: a test case of same_bytes, showing the
# difference when it fails
same_msg() {
	if same_bytes "$1" "$2"; then ok 0 "$3"; else
		ok 1 "$3"
		echo "#   $1 and $2:"
		diff "$tmp/a.cmp" "$tmp/b.cmp" 2>&1 | head -10 | sed 's/^/#   /'
	fi
}
norm() {
	sed 's/\r$//' "$1" | awk 'h && /^X-TUID: [A-Za-z0-9+\/]+$/ { next } /^$/ { h = 0 } { print }' h=1
}
# say STATUS DESCRIPTION: ok, and return STATUS, for "say ... || explain"
say() { ok "$1" "$2"; return "$1"; }
# flags_of FILE: the Maildir flags in its name
flags_of() { case $1 in *:2,*) echo "${1##*:2,}" ;; *) echo "" ;; esac; }
# wire LOG: the protocol lines of an mbsync -D log, for a failure report
wire() { grep -e '^F: [^[]' -e 'rror' -e 'arning' "$1" | grep -v 'Enter\|Leave\|Called' | tail -n "${2:-60}" | sed 's/^/#   /'; }

# ---- mail for bob: INBOX with flags, Sent, Work.Reports ----
printf 'Subject: seen\nFrom: alice@remote.test\n\nread already\n' | store --maildir "$bobdir"
printf 'Subject: flagged\nFrom: alice@remote.test\n\nFrom the start of a line\n.a dot\n' | store --maildir "$bobdir"
printf 'Subject: answered\nFrom: alice@remote.test\nContent-Type: text/plain; charset=utf-8\n\nr\303\251ponse \342\202\254\n%s\n' \
	"$(printf '%0900d' 0)" | store --maildir "$bobdir"
printf 'Subject: unread\nFrom: alice@remote.test\n\nno newline at the end' | store --maildir "$bobdir"
printf 'Subject: sent one\nFrom: bob@example.org\n\nsent\n' | store --maildir "$bobdir" --folder Sent
printf 'Subject: report one\nFrom: boss@example.org\n\nq1\n' | store --maildir "$bobdir" --folder Work/Reports
setflags() { mv "$1" "$bobdir/cur/$(basename "${1%%:2,*}"):2,$2"; }
setflags "$(file_of "$bobdir/new" seen)" S
setflags "$(file_of "$bobdir/new" flagged)" FS
setflags "$(file_of "$bobdir/new" answered)" RS
is "$(tree "$bobdir" server | wc -l | tr -d ' ')" 6 "six messages delivered by mail-store, three given flags"

start_tcpserver "$MAIL_IMAPD" --tls $TLS
tls_port=$port
start_tcpserver "$MAIL_IMAPD" $TLS
starttls_port=$port

# ---- mbsync ----
# mbsyncrc NAME SSLTYPE PORT USER PASS: a channel NAME between the
# server and the Maildir $tmp/NAME, everything both ways
mbsyncrc() {
	mkdir -p "$tmp/$1"
	cat >"$tmp/$1.rc" <<EOF
IMAPAccount $1
Host localhost
Port $3
User $4
Pass $5
SSLType $2
CertificateFile $tmp/cert.pem

IMAPStore $1-far
Account $1

MaildirStore $1-near
Path $tmp/$1/
Inbox $tmp/$1/INBOX
SubFolders Verbatim

Channel $1
Far :$1-far:
Near :$1-near:
Patterns *
Create Both
Remove None
Expunge Both
SyncState *
Sync All
EOF
}
# mbsync_run NAME: run mbsync -D on channel NAME; its log in $tmp/NAME.log
mbsync_run() {
	timeout 30 mbsync -D -c "$tmp/$1.rc" "$1" >"$tmp/$1.log" 2>&1
}
# check_sync NAME DESCRIPTION: sync, and pass when mbsync exits 0
check_sync() {
	mbsync_run "$1"
	_rc=$?
	ok $_rc "$2"
	[ $_rc -eq 0 ] || { echo "# mbsync exit $_rc; the wire:"; wire "$tmp/$1.log" 80; }
}
mbox=$tmp/mb
if command -v mbsync >/dev/null; then
	mbsyncrc mb IMAPS "$tls_port" bob@example.org pw
	check_sync mb "mbsync over IMAPS (--tls, CertificateFile): the first sync"
	for s in seen flagged answered unread; do
		same_msg "$(file_of "$bobdir" "$s")" "$(file_of "$mbox/INBOX" "$s")" \
			"... INBOX message '$s' pulled byte for byte"
	done
	same_msg "$(file_of "$bobdir/.Sent" "sent one")" "$(file_of "$mbox/Sent" "sent one")" \
		"... Sent pulled"
	same_msg "$(file_of "$bobdir/.Work.Reports" "report one")" "$(file_of "$mbox/Work/Reports" "report one")" \
		"... the nested Work.Reports pulled into Work/Reports"
	is "$(for s in seen flagged answered unread; do printf '%s ' "$(flags_of "$(file_of "$mbox/INBOX" "$s")")"; done)" \
		"S FS RS  " "... with their flags: S, FS, RS and none"
	is "$(tree "$mbox" local | grep -v '^INBOX ' | cut -d' ' -f1 | sort -u | tr '\n' ' ')" "Sent Work.Reports " \
		"... the folders with mail: Sent and Work.Reports"

	# local changes: flags, a new message, a deletion, a message in a folder
	f=$(file_of "$mbox/INBOX" seen); mv "$f" "${f%:2,*}:2,FS"
	f=$(file_of "$mbox/INBOX" flagged); mv "$f" "${f%:2,*}:2,F"
	f=$(file_of "$mbox/INBOX" unread); mv "$f" "$mbox/INBOX/cur/$(basename "${f%:2,*}"):2,RS"
	rm "$(file_of "$mbox/INBOX" answered)"
	printf 'Subject: pushed\nFrom: bob@example.org\nTo: carol@example.org\n\nwritten offline\n.\nFrom here\n' \
		>"$mbox/INBOX/cur/1700000000.1_1.laptop:2,S"
	printf 'Subject: report two\nFrom: bob@example.org\n\nq2\n' >"$mbox/Work/Reports/new/1700000001.1_2.laptop"
	check_sync mb "mbsync: the second sync pushes the local changes"
	[ "$(flags_of "$(file_of "$bobdir" seen)")" = FS ]
	say $? "... \\Flagged added: the server's file name ends :2,FS" || wire "$tmp/mb.log"
	is "$(flags_of "$(file_of "$bobdir" flagged)")" F "... \\Seen removed: :2,F"
	is "$(flags_of "$(file_of "$bobdir" unread)")" RS "... \\Answered \\Seen on the unread one: :2,RS"
	[ -z "$(file_of "$bobdir" answered)" ]; ok $? "... the message deleted locally is expunged on the server"
	same_msg "$(file_of "$bobdir" pushed)" "$mbox/INBOX/cur/1700000000.1_1.laptop"* \
		"... the new local message APPENDed, byte for byte"
	is "$(flags_of "$(file_of "$bobdir" pushed)")" S "... with its \\Seen flag"
	same_msg "$(file_of "$bobdir/.Work.Reports" "report two")" "$(file_of "$mbox/Work/Reports" "report two")" \
		"... a new message in Work/Reports APPENDed to Work.Reports"

	# new mail on the server, a folder that only the server has, and
	# what another client did meanwhile: a flag added, a message removed
	f=$(file_of "$bobdir" seen); mv "$f" "${f%:2,*}:2,FRS"
	rm "$(file_of "$bobdir/.Work.Reports" "report one")"
	printf 'Subject: later\nFrom: alice@remote.test\n\nafter the sync\n' | store --maildir "$bobdir"
	printf 'Subject: report three\nFrom: boss@example.org\n\nq3\n' | store --maildir "$bobdir" --folder Work/Reports
	printf 'Subject: archived\nFrom: alice@remote.test\n\nold\n' | store --maildir "$bobdir" --folder Lists/Announce
	printf 'Subject: odd name\nFrom: alice@remote.test\n\nx\n' | store --maildir "$bobdir" --folder "$(printf 'R\303\251unions d\047\303\251t\303\251')"
	check_sync mb "mbsync: a third sync"
	same_msg "$(file_of "$bobdir" later)" "$(file_of "$mbox/INBOX" later)" "... pulls the new delivery to INBOX"
	same_msg "$(file_of "$bobdir/.Work.Reports" "report three")" "$(file_of "$mbox/Work/Reports" "report three")" \
		"... and to Work.Reports"
	same_msg "$(file_of "$bobdir/.Lists.Announce" archived)" "$(file_of "$mbox/Lists/Announce" archived)" \
		"... and creates the new folder Lists/Announce locally"
	# isync 1.4 names the local folder in IMAP's modified UTF-7
	same_msg "$(file_of "$bobdir" "odd name")" "$(file_of "$mbox/R&AOk-unions d'&AOk-t&AOk-" "odd name")" \
		"... and a folder with a space, a quote and accents in its name"
	is "$(flags_of "$(file_of "$mbox/INBOX" seen)")" FRS "... pulls \\Answered, set on the server by another client"
	[ -z "$(file_of "$mbox/Work/Reports" "report one")" ]; ok $? "... deletes locally what another client expunged"
	is "$(tree "$mbox" local)" "$(tree "$bobdir" server)" "... both sides hold the same messages with the same flags"

	before="$(tree "$mbox" local)|$(tree "$bobdir" server)|$(find "$bobdir" "$mbox" -path '*/cur/*' -o -path '*/new/*' | sort)"
	check_sync mb "mbsync: a sync with nothing new"
	after="$(tree "$mbox" local)|$(tree "$bobdir" server)|$(find "$bobdir" "$mbox" -path '*/cur/*' -o -path '*/new/*' | sort)"
	[ "$before" = "$after" ]; ok $? "... changes no file on either side"
	out=$(grep -E '^F: >>> [0-9]+ (APPEND|UID STORE|STORE|EXPUNGE|UID EXPUNGE)' "$tmp/mb.log")
	[ -z "$out" ]; say $? "... and sends no APPEND, STORE or EXPUNGE" || printf '%s\n' "$out" | sed 's/^/#   /'

	# a fresh Maildir over port 143 and STARTTLS gets the same tree
	mbsyncrc st STARTTLS "$starttls_port" bob@example.org pw
	sed -i '/^SSLType/a AuthMechs LOGIN' "$tmp/st.rc"
	check_sync st "mbsync over STARTTLS with AuthMechs LOGIN: a fresh Maildir"
	grep -q '^F: >>> [0-9]* STARTTLS' "$tmp/st.log"; ok $? "... it used STARTTLS"
	grep -q '^F: >>> [0-9]* LOGIN ' "$tmp/st.log"; ok $? "... and the LOGIN command"
	is "$(tree "$tmp/st" local)" "$(tree "$bobdir" server)" "... and holds the server's messages with their flags"
	mbsyncrc bad IMAPS "$tls_port" bob@example.org wrong
	mbsync_run bad
	[ $? -ne 0 ]; ok $? "mbsync with a wrong password fails"
	grep -q 'AUTHENTICATIONFAILED' "$tmp/bad.log"; ok $? "... told [AUTHENTICATIONFAILED]"
else
	ok 1 "mbsync missing (Debian's isync; scripts/deps installs it)"
fi

# ---- curl ----
printf 'Subject: alpha\nFrom: alice@remote.test\n\nfirst\r\n' | store --maildir "$caroldir"
printf 'Subject: beta x\nFrom: alice@remote.test\n\nsecond\n..two dots\n' | store --maildir "$caroldir"
printf 'Subject: gamma\nFrom: alice@remote.test\n\nthird, no newline' | store --maildir "$caroldir"
printf 'Subject: delta x\nFrom: alice@remote.test\n\nfourth\n' | store --maildir "$caroldir" --folder Work/Reports
c() { rm -f "$tmp/curl.out"; curl -s --max-time 10 --cacert "$tmp/cert.pem" -u carol@example.org:pw2 "$@"; }
imaps=imaps://localhost:$tls_port
imap=imap://localhost:$starttls_port
out=$(c "$imaps/" | tr -d '\r')
printf '%s\n' "$out" | grep -q '^\* LIST (.*) "\." "\?Work\.Reports"\?$'; say $? "curl imaps:// LIST: Work.Reports" ||
	printf '%s\n' "$out" | sed 's/^/#   /'
printf '%s\n' "$out" | grep -q '^\* LIST (.*\\Sent.*) "\." "\?Sent"\?$'; ok $? "... Sent, with \\Sent"
printf '%s\n' "$out" | grep -q '^\* LIST (.*) "\." "\?INBOX"\?$'; ok $? "... INBOX"
out=$(c "$imaps/" -X 'EXAMINE INBOX')
printf '%s\n' "$out" | grep -q '^\* 3 EXISTS'; say $? "curl -X 'EXAMINE INBOX': 3 EXISTS" || printf '%s\n' "$out" | sed 's/^/#   /'
validity=$(printf '%s\n' "$out" | sed -n 's/.*\[UIDVALIDITY \([0-9]*\)\].*/\1/p')
[ -n "$validity" ]; ok $? "... and a UIDVALIDITY"
i=0
for s in alpha "beta x" gamma; do
	i=$((i + 1))
	c "$imaps/INBOX;UIDVALIDITY=$validity;UID=$i" -o "$tmp/curl.out"
	same_msg "$(file_of "$caroldir" "$s")" "$tmp/curl.out" "curl imaps://.../INBOX;UID=$i: '$s' byte for byte"
done
cr=$(tr -cd '\r' <"$tmp/curl.out" | wc -c | tr -d ' ')
lf=$(tr -cd '\n' <"$tmp/curl.out" | wc -c | tr -d ' ')
[ "$cr" -eq "$lf" ] && [ "$lf" -gt 0 ]; ok $? "... sent with CR LF line ends"
c "$imaps/Work.Reports;UID=1" -o "$tmp/curl.out"
same_msg "$(file_of "$caroldir/.Work.Reports" "delta x")" "$tmp/curl.out" "curl: Work.Reports;UID=1 byte for byte"
c "$imaps/INBOX;UIDVALIDITY=$((validity + 1));UID=1" -o "$tmp/curl.out"
[ $? -ne 0 ]; ok $? "curl: a stale ;UIDVALIDITY= is refused"
out=$(c "$imaps/INBOX" -X 'SEARCH SUBJECT x' | tr -d '\r')
is "$out" "* SEARCH 2" "curl -X 'SEARCH SUBJECT x' in INBOX: 2"
out=$(c "$imaps/INBOX" -X 'UID SEARCH NOT SUBJECT x' | tr -d '\r')
is "$out" "* SEARCH 1 3" "curl -X 'UID SEARCH NOT SUBJECT x': 1 3"
out=$(c "$imaps/INBOX?SUBJECT%20gamma" | tr -d '\r')
is "$out" "* SEARCH 3" "curl imaps://.../INBOX?SUBJECT%20gamma (a URL search): 3"
c "$imaps/INBOX;UID=2" --login-options AUTH=PLAIN -o "$tmp/curl.out" -v 2>"$tmp/curl.err"
same_msg "$(file_of "$caroldir" "beta x")" "$tmp/curl.out" "curl --login-options AUTH=PLAIN: logged in, fetched"
grep -q '^> [A-Z0-9]* AUTHENTICATE PLAIN' "$tmp/curl.err"; say $? "... with AUTHENTICATE PLAIN" || sed 's/^/#   /' "$tmp/curl.err" | head -20
c "$imap/INBOX;UID=1" --ssl-reqd -o "$tmp/curl.out" -v 2>"$tmp/curl.err"
same_bytes "$(file_of "$caroldir" alpha)" "$tmp/curl.out"; say $? "curl imap:// --ssl-reqd: STARTTLS, then the fetch" ||
	sed 's/^/#   /' "$tmp/curl.err" | head -30
grep -q '^> [A-Z0-9]* STARTTLS' "$tmp/curl.err"; ok $? "... it sent STARTTLS"
out=$(c "$imap/" -v 2>&1)
[ $? -ne 0 ]; ok $? "curl imap:// without TLS on the STARTTLS port: login refused"
printf '%s\n' "$out" | grep -q 'LOGINDISABLED\|PRIVACYREQUIRED'; ok $? "... LOGINDISABLED or [PRIVACYREQUIRED] said why"
printf 'Subject: by curl\nFrom: carol@example.org\n\nuploaded\n' >"$tmp/up.eml"
c "$imaps/Sent" -T "$tmp/up.eml"
ok $? "curl -T: APPEND to Sent"
same_msg "$(file_of "$caroldir/.Sent" "by curl")" "$tmp/up.eml" "... stored byte for byte"
is "$(flags_of "$(file_of "$caroldir" alpha)")" S "curl's fetches (BODY[], not PEEK) set \\Seen: :2,S"
c "$imaps/INBOX" -X 'UID STORE 1 +FLAGS (\Flagged)' >/dev/null
is "$(flags_of "$(file_of "$caroldir" alpha)")" FS "curl -X 'UID STORE 1 +FLAGS (\\Flagged)': the file name ends :2,FS"

# ---- neomutt, in batch mode on a pseudo-terminal ----
printf 'Subject: keep me\nFrom: alice@remote.test\n\nkeep\n' | store --maildir "$davedir"
printf 'Subject: delete me\nFrom: alice@remote.test\n\ndelete\n' | store --maildir "$davedir"
printf 'Subject: save me\nFrom: alice@remote.test\n\nsave\n' | store --maildir "$davedir"
MUTT=$(command -v neomutt)
if [ -n "$MUTT" ]; then
	mkdir -p "$tmp/mutthome"
	cat >"$tmp/muttrc" <<EOF
set folder = "imaps://dave@example.org@localhost:$tls_port/"
set imap_pass = "pw3"
set spoolfile = "+INBOX"
set certificate_file = "$tmp/cert.pem"
set ssl_force_tls = yes
set header_cache = ""
set message_cachedir = ""
set mbox_type = Maildir
set confirmappend = no
set confirmcreate = no
set delete = yes
set move = no
set quit = yes
set wait_key = no
set mark_old = no
set imap_check_subscribed = no
set timeout = 5
set mail_check = 0
EOF
	# the keys, given with -e push so no keyboard is needed: save (move)
	# 'save me' to the new folder Saved, flag 'keep me', delete
	# 'delete me', sync (expunge) and quit
	cp "$(file_of "$davedir" "save me")" "$tmp/saveme.eml"
	keys='<limit>~s "save me"<enter><save-message>=Saved<enter><limit>~A<enter>'
	keys="$keys"'<search>keep me<enter><flag-message><search>delete me<enter><delete-message><sync-mailbox><quit>'
	# its protocol log (-d 5) goes to $tmp/mutt.log0, for a failure report
	"$PYTHON3" - "$MUTT" "$tmp/muttrc" "$keys" "$tmp/mutthome" "$tmp/mutt.log" >"$tmp/mutt.out" 2>&1 <<'PY'
import os, pty, select, sys, time
mutt, rc, keys, home, log = sys.argv[1:6]
pid, fd = pty.fork()
if pid == 0:
    os.environ.update(HOME=home, TERM="vt100", LINES="24", COLUMNS="80")
    os.execvp(mutt, [mutt, "-n", "-d", "5", "-l", log, "-F", rc,
                     "-e", "push '%s'" % keys.replace("'", "\\'")])
# a watchdog, no assertion: after an error neomutt drops the keys
# pushed and waits for the keyboard; it is killed once its screen has
# been still for 5 seconds, or after 20 in all
end = time.time() + 20
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 5)
    if not r:
        break
    try:
        if not os.read(fd, 65536):
            break
    except OSError:
        break
done, status = os.waitpid(pid, os.WNOHANG)
if done == 0:
    os.kill(pid, 9)
    print("killed: it waited for the keyboard (an error dropped the keys)")
    _, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
PY
	say $? "$(basename "$MUTT") -e 'push ...' on a pseudo-terminal: exit 0" || {
		sed 's/^/#   /' "$tmp/mutt.out"
		grep -a -e 'socket_write_d\|socket_readln_d' -e '<E>' "$tmp/mutt.log0" |
			sed 's/^\[[^]]*\]<.> [a-z_]*() /#   /' | cut -c1-400 | tail -12
	}
	same_msg "$(file_of "$davedir/.Saved" "save me")" "$tmp/saveme.eml" \
		"... <save-message>=Saved: created Saved and copied the message there byte for byte"
	[ -z "$(grep -l '^Subject: save me' "$davedir"/cur/* "$davedir"/new/* 2>/dev/null)" ]
	ok $? "... and, as <save-message> moves, expunged it from INBOX"
	is "$(flags_of "$(file_of "$davedir" "keep me")")" F "... <flag-message>: :2,F on the server"
	[ -z "$(grep -l '^Subject: delete me' "$davedir"/cur/* "$davedir"/new/* 2>/dev/null)" ]
	ok $? "... <delete-message> and <sync-mailbox>: expunged"
else
	ok 1 "neomutt missing (scripts/deps installs it)"
fi

# ---- gnutls-cli ----
if command -v gnutls-cli >/dev/null; then
	out=$(printf 'a LOGIN bob@example.org pw\r\nb EXAMINE Work.Reports\r\nc LOGOUT\r\n' |
		timeout 20 gnutls-cli --x509cafile "$tmp/cert.pem" --starttls-proto=imap -p "$starttls_port" localhost 2>&1)
	printf '%s\n' "$out" | grep -q '^b OK \[READ-ONLY\]'; say $? "gnutls-cli --starttls-proto=imap: the certificate verified, LOGIN, EXAMINE" ||
		printf '%s\n' "$out" | tail -15 | sed 's/^/#   /'
	printf '%s\n' "$out" | grep -q '^\* BYE'; ok $? "... LOGOUT: BYE"
else
	ok 1 "gnutls-cli missing (gnutls-bin)"
fi
stop_tcpserver

done_testing
