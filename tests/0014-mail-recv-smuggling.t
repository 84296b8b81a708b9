#!/bin/sh
# SMTP smuggling: every end-of-data look-alike from the research, pipelined
# with a second transaction behind it. Only CRLF "." CRLF ends DATA, so the
# server must see one message, never two: refused by default (554 5.6.0),
# or, with --bare-newline normalize, accepted with the smuggled lines as
# plain text in it.
. "${top_srcdir:-.}/tests/lib.sh"

MAIL_RECV=$top_builddir/mail-recv
use_mail_conf "example.org"
echo "queue_dir = $tmp/queue" >>"$tmp/mail.conf"
mu add bob@example.org </dev/null
raw() { "$PYTHON3" "$top_srcdir/tests/smtpraw.py" "$port"; }

# name|sequence (Python escapes), as in the SMTP smuggling write-ups
sequences='LF.LF|\n.\n
CR.CR|\r.\r
CR.LF|\r.\n
LF.CRLF|\n.\r\n
CRLF.LF|\r\n.\n
CRLF NUL.CRLF|\r\n\x00.\r\n
LF.CR|\n.\r
CRLF.CR|\r\n.\r
CR.CRLF|\r.\r\n
CRLF..LF|\r\n..\n'

for mode in reject normalize; do
	start_tcpserver "$MAIL_RECV" --bare-newline "$mode"
	while IFS='|' read -r name seq; do
		before=$(queued)
		out=$(printf 'EHLO c\\r\\nMAIL FROM:<a@remote.test>\\r\\nRCPT TO:<bob@example.org>\\r\\nDATA\\r\\nSubject: real\\r\\n\\r\\nbody%sMAIL FROM:<evil@remote.test>\\r\\nRCPT TO:<bob@example.org>\\r\\nDATA\\r\\nSubject: smuggled\\r\\n\\r\\nevil\\r\\n.\\r\\nQUIT\\r\\n' "$seq" | raw)
		after=$(queued)
		is "$(printf '%s\n' "$out" | grep -c '^354')" 1 "$mode $name: one DATA phase"
		is "$(printf '%s\n' "$out" | grep -c '^250 2.1.0')" 1 "$mode $name: one MAIL accepted"
		case "$mode:$name" in
		reject:*|*NUL*)
			printf '%s\n' "$out" | grep -q '^554 5.6.0'; ok $? "$mode $name: refused with 554 5.6.0"
			is "$after" "$before" "$mode $name: nothing queued"
			;;
		*)
			printf '%s\n' "$out" | grep -q '^250 2.0.0 Ok: queued'; ok $? "$mode $name: one message queued"
			is "$after" "$((before + 1))" "$mode $name: exactly one"
			f=$(ls -t "$tmp/queue/msg/"* | head -1)
			grep -q 'MAIL FROM:<evil@remote.test>' "$f"; ok $? "$mode $name: the smuggled command is text in it"
			;;
		esac
		is "$(printf '%s\n' "$out" | tail -1)" "221 2.0.0 Bye" "$mode $name: the session ends in order"
	done <<EOF
$sequences
EOF
	stop_tcpserver
done

done_testing
