#!/bin/sh
# mail-store into Maildir and Maildir++ folders, read back with Python's mailbox.
. "${top_srcdir:-.}/tests/lib.sh"

md=$tmp/Maildir
printf 'From: a@example.org\r\nSubject: one\r\n\r\nbody line\r\n' >"$tmp/m1"

expect_exit 0 "deliver a CRLF message" "$MAIL_STORE" --maildir "$md" -f s@example.org -r u@example.net <"$tmp/m1"
is "$(mailcheck maildir "$md")" 1 "mailbox.Maildir reads one message with correct S= and W="
is "$(mailcheck maildir-get "$md" 0 | od -c | head -c 2000)" \
   "$(printf 'Return-Path: <s@example.org>\nDelivered-To: u@example.net\nFrom: a@example.org\nSubject: one\n\nbody line\n' | od -c)" \
   "stored with envelope headers and LF line ends"
is "$(stat -c %a "$md" "$md/tmp" "$md/new" "$md/cur" | tr '\n' ' ')" "700 700 700 700 " "Maildir created mode 0700"
name=$(ls "$md/new")
check "file name time.M<usec>P<pid>Q<n>.<host>,S=<n>,W=<n>" \
	sh -c "echo '$name' | grep -Eq '^[0-9]+\.M[0-9]+P[0-9]+Q[0-9]+\.[^/]+,S=[0-9]+,W=[0-9]+$'"
is "$(count_files "$md/tmp")" 0 "tmp/ empty after delivery"

SENDER=env@example.org RECIPIENT=envrcpt@example.net "$MAIL_STORE" --maildir "$md" <"$tmp/m1"
mailcheck maildir-get "$md" 1 >"$tmp/got"
check "envelope from SENDER and RECIPIENT" grep -q '^Delivered-To: envrcpt@example.net$' "$tmp/got"
check "Return-Path from SENDER" grep -q '^Return-Path: <env@example.org>$' "$tmp/got"
SENDER= "$MAIL_STORE" --maildir "$md" <"$tmp/m1"
check "empty SENDER is the null sender" sh -c "'$PYTHON3' '$top_srcdir/tests/mailcheck.py' maildir-get '$md' 2 | grep -q '^Return-Path: <>$'"

expect_exit 0 "deliver into folder Work/Reports" "$MAIL_STORE" --maildir "$md" --folder Work/Reports <"$tmp/m1"
check "folder directory .Work.Reports has maildirfolder" test -f "$md/.Work.Reports/maildirfolder"
is "$(mailcheck folders "$md")" "Work.Reports" "mailbox.Maildir lists the folder"
is "$(mailcheck maildir "$md/.Work.Reports")" 1 "message in the folder"
expect_exit 0 "folder Work.Reports is the same folder" "$MAIL_STORE" --maildir "$md" --folder Work.Reports <"$tmp/m1"
is "$(mailcheck maildir "$md/.Work.Reports")" 2 "two messages in the folder"
expect_exit 0 "UTF-8 folder name" "$MAIL_STORE" --maildir "$md" --folder "$(printf 'Entw\303\274rfe')" <"$tmp/m1"
check "stored as modified UTF-7 .Entw&APw-rfe" test -d "$md/.Entw&APw-rfe/new"
expect_exit 0 "folder INBOX is the Maildir itself" "$MAIL_STORE" --maildir "$md" --folder inbox <"$tmp/m1"
is "$(mailcheck maildir "$md")" 4 "four messages in INBOX"

mkdir "$tmp/jail"
for bad in .. ../escape ../../escape .hidden Work/../../escape /etc/x "a//b" "a/"; do
	expect_exit 64 "folder '$bad' refused" "$MAIL_STORE" --maildir "$tmp/jail/Maildir" --folder "$bad" <"$tmp/m1"
done
expect_exit 64 "folder with a TAB refused" "$MAIL_STORE" --maildir "$tmp/jail/Maildir" --folder "$(printf 'a\tb')" <"$tmp/m1"
expect_exit 64 "folder with ESC refused" "$MAIL_STORE" --maildir "$tmp/jail/Maildir" --folder "$(printf 'a\033b')" <"$tmp/m1"
expect_exit 64 "folder in invalid UTF-8 refused" "$MAIL_STORE" --maildir "$tmp/jail/Maildir" --folder "$(printf 'x\377')" <"$tmp/m1"
check "nothing created outside the Maildir" test "$(find "$tmp" -name escape -o -name x | wc -l)" -eq 0
check "nothing created for refused folders" test ! -e "$tmp/jail/Maildir/new" -o "$(find "$tmp/jail" -name '.*' -type d | wc -l)" -eq 0

# Unique names: parallel deliveries never collide.
in_parallel 20 "$tmp/m1" "$MAIL_STORE" --maildir "$tmp/par"
is "$(mailcheck maildir "$tmp/par")" 20 "20 parallel deliveries, 20 messages"

# Host part escaping.
expect_exit 0 "--hostname with / : ," "$MAIL_STORE" --maildir "$tmp/host" --hostname 'mx/a:b,c' <"$tmp/m1"
check "host escaped as \\057 \\072 \\054" sh -c "ls '$tmp/host/new' | grep -q 'mx\\\\057a\\\\072b\\\\054c,S='"

# Default destination: home_mailbox under HOME.
mkdir -p "$tmp/home"
HOME=$tmp/home "$MAIL_STORE" <"$tmp/m1"
is "$(mailcheck maildir "$tmp/home/Maildir")" 1 "default ~/Maildir/"
printf 'home_mailbox = Mail/inbox\n' >"$tmp/mbox.conf"
HOME=$tmp/home "$MAIL_STORE" --config "$tmp/mbox.conf" <"$tmp/m1"
is "$(mailcheck mbox "$tmp/home/Mail/inbox" 2>&1)" 1 "home_mailbox without / is an mbox"
printf 'home_mailbox = Maildir2/\nhostname = conf.example\n' >"$tmp/md.conf"
HOME=$tmp/home MAIL_CONF=$tmp/md.conf "$MAIL_STORE" <"$tmp/m1"
check "MAIL_CONF names the configuration; hostname from it" sh -c "ls '$tmp/home/Maildir2/new' | grep -q '\.conf\.example,S='"

# Mail loop.
printf 'Received: from mx.example.com by mx.example.net\nDelivered-To: U@Example.NET\nSubject: loop\n\nx\n' >"$tmp/loop"
expect_exit 65 "Delivered-To for the same recipient below Received: is a loop" "$MAIL_STORE" --maildir "$tmp/loopmd" -r u@example.net <"$tmp/loop"
stderr_has "loop" "the reason says loop"
is "$(count_files "$tmp/loopmd/new")$(count_files "$tmp/loopmd/tmp")" 00 "no file left in new/ or tmp/"
expect_exit 0 "another recipient is no loop" "$MAIL_STORE" --maildir "$tmp/loopmd" -r other@example.net <"$tmp/loop"
# Postfix local(8) hands a mailbox_command the message with its own
# Delivered-To: on top and the same address in RECIPIENT: not a loop.
printf 'Delivered-To: u@example.net\nReceived: from mx.example.com by mx.example.net\nSubject: x\n\nx\n' >"$tmp/postfix"
expect_exit 0 "Postfix-style Delivered-To on top is no loop" env RECIPIENT=u@example.net "$MAIL_STORE" --maildir "$tmp/loopmd" <"$tmp/postfix"
expect_exit 0 "-r '' means no recipient, whatever RECIPIENT says" env RECIPIENT=u@example.net "$MAIL_STORE" --maildir "$tmp/norcpt" -r '' <"$tmp/m1"
expect_exit 0 "RECIPIENT='<>' means no recipient" env RECIPIENT='<>' "$MAIL_STORE" --maildir "$tmp/norcpt" <"$tmp/m1"
check "and no Delivered-To: line" sh -c "! grep -q '^Delivered-To' '$tmp'/norcpt/new/*"

# tmp/ debris older than 36 hours is removed, recent files stay.
touch -d '3 days ago' "$md/tmp/old.debris"
touch "$md/tmp/fresh.inprogress"
"$MAIL_STORE" --maildir "$md" <"$tmp/m1"
check "old tmp/ debris removed" test ! -e "$md/tmp/old.debris"
check "recent tmp/ file kept" test -e "$md/tmp/fresh.inprogress"

# Maildir++ quota.
q=$tmp/quota
head -c 2000 /dev/zero | tr '\0' 'x' | fold -w 70 >"$tmp/big"
expect_exit 0 "under quota" "$MAIL_STORE" --maildir "$q" --quota 1000 <"$tmp/m1"
is "$(head -1 "$q/maildirsize")" "1000S" "maildirsize written with the limit"
expect_exit 75 "over quota defers (75)" "$MAIL_STORE" --maildir "$q" --quota 1000 <"$tmp/big"
stderr_has "quota" "the reason says quota"
expect_exit 69 "over quota with --quota-bounce (69)" "$MAIL_STORE" --maildir "$q" --quota 1000 --quota-bounce <"$tmp/big"
is "$(count_files "$q/new")$(count_files "$q/tmp")" 10 "refused messages leave nothing behind"
expect_exit 75 "maildirsize limits apply without a flag" "$MAIL_STORE" --maildir "$q" <"$tmp/big"
expect_exit 0 "count quota: second message fits" "$MAIL_STORE" --maildir "$q" --quota 100K,2 <"$tmp/m1"
expect_exit 75 "count quota: third message does not" "$MAIL_STORE" --maildir "$q" --quota 100K,2 <"$tmp/m1"
expect_exit 0 "a folder counts against the same quota" "$MAIL_STORE" --maildir "$q" --folder Sent --quota 100K,3 <"$tmp/m1"
expect_exit 75 "and fills it" "$MAIL_STORE" --maildir "$q" --folder Sent --quota 100K,3 <"$tmp/m1"
expect_exit 64 "bad quota refused" "$MAIL_STORE" --maildir "$q" --quota 10X <"$tmp/m1"

# X-Spam-Flag: YES in the top header (mail-filter's verdict): the junk
# folder, unless delivery names a folder or --junk '' keeps it in INBOX.
j=$tmp/junk
printf 'Subject: spam\nX-Spam-Flag: YES\n\nbuy\n' >"$tmp/spam"
printf 'Subject: ham\nX-Spam-Flag: NO\n\nhello\n' >"$tmp/ham"
printf 'Subject: body\n\nX-Spam-Flag: YES\n' >"$tmp/inbody"
printf 'Subject: folded\nX-Spam-Flag:\n  Yes\n\nbuy\n' >"$tmp/folded"
expect_exit 0 "a message flagged as spam is delivered" "$MAIL_STORE" --maildir "$j" <"$tmp/spam"
is "$(count_files "$j/.Junk/new")$(count_files "$j/new")" 10 "... into Junk, made as a Maildir++ folder"
check "... with its maildirfolder file" test -f "$j/.Junk/maildirfolder"
is "$(count_files "$j/tmp")$(count_files "$j/.Junk/tmp")" 00 "... and nothing left in tmp/"
"$MAIL_STORE" --maildir "$j" <"$tmp/ham"
"$MAIL_STORE" --maildir "$j" <"$tmp/inbody"
is "$(count_files "$j/new")" 2 "X-Spam-Flag: NO, and the words in the body, stay in INBOX"
"$MAIL_STORE" --maildir "$j" <"$tmp/folded"
is "$(count_files "$j/.Junk/new")" 2 "a folded X-Spam-Flag: Yes counts"
"$MAIL_STORE" --maildir "$j" --junk Spam.Caught <"$tmp/spam"
is "$(count_files "$j/.Spam.Caught/new")" 1 "--junk names the folder"
"$MAIL_STORE" --maildir "$j" --junk '' <"$tmp/spam"
is "$(count_files "$j/new")" 3 "--junk '' keeps spam in INBOX"
"$MAIL_STORE" --maildir "$j" --folder Work <"$tmp/spam"
is "$(count_files "$j/.Work/new")" 1 "a delivery to a named folder goes there, spam or not"
expect_exit 64 "--junk INBOX is refused" "$MAIL_STORE" --maildir "$j" --junk INBOX <"$tmp/spam"
expect_exit 64 "--junk with an mbox is refused" "$MAIL_STORE" --mbox "$tmp/j.mbox" --junk Junk <"$tmp/spam"

# Output of -v, --help, --version.
"$MAIL_STORE" -v --maildir "$md" <"$tmp/m1" 2>"$tmp/v"
check "-v reports the delivered path" grep -q "delivered path=$md/new/" "$tmp/v"
check "--version" sh -c "'$MAIL_STORE' --version | grep -q '^mail-store (mail-toolkit) '"
check "--help" sh -c "'$MAIL_STORE' --help | grep -q -- '--maildir'"

done_testing
