#!/bin/sh
# mail-store's failures: each a sysexits code and one line on stderr.
. "${top_srcdir:-.}/tests/lib.sh"

printf 'Subject: x\n\nbody\n' >"$tmp/m"
md=$tmp/Maildir

expect_exit 64 "unknown option" "$MAIL_STORE" --bogus <"$tmp/m"
expect_exit 64 "missing option argument" "$MAIL_STORE" --maildir <"$tmp/m"
expect_exit 64 "extra argument" "$MAIL_STORE" --maildir "$md" extra <"$tmp/m"
expect_exit 64 "--maildir and --mbox together" "$MAIL_STORE" --maildir "$md" --mbox "$tmp/mb" <"$tmp/m"
expect_exit 64 "bad --lock-timeout" "$MAIL_STORE" --mbox "$tmp/mb" --lock-timeout soon <"$tmp/m"
expect_exit 64 "sender with CR refused (header injection)" "$MAIL_STORE" --maildir "$md" -f "$(printf 'a@b\rX-Evil: 1')" <"$tmp/m"
expect_exit 64 "recipient with LF refused" "$MAIL_STORE" --maildir "$md" -r "$(printf 'a@b\nX-Evil: 1')" <"$tmp/m"
expect_exit 64 "SENDER with LF refused" env SENDER="$(printf 'a@b\nX: 1')" "$MAIL_STORE" --maildir "$md" <"$tmp/m"
expect_exit 64 "address over 998 bytes refused" "$MAIL_STORE" --maildir "$md" -f "$(head -c 1200 /dev/zero | tr '\0' a)@x" <"$tmp/m"
check "nothing delivered by refused runs" test ! -e "$md"

expect_exit 67 "unknown USER without HOME" env -u HOME USER=no-such-user-here "$MAIL_STORE" <"$tmp/m"
stderr_has "no-such-user-here" "the reason names the user"

expect_exit 78 "missing --config file" "$MAIL_STORE" --config "$tmp/none.conf" --maildir "$md" <"$tmp/m"
expect_exit 78 "missing MAIL_CONF file" env MAIL_CONF="$tmp/none.conf" "$MAIL_STORE" --maildir "$md" <"$tmp/m"
printf 'hostname = a\nlock_timout = 5\n' >"$tmp/typo.conf"
expect_exit 78 "misspelt key in mail.conf" "$MAIL_STORE" --config "$tmp/typo.conf" --maildir "$md" <"$tmp/m"
stderr_has "typo.conf:2: unknown key lock_timout" "the reason has file, line and key"
printf 'lock_timeout = -1\n' >"$tmp/neg.conf"
expect_exit 78 "bad lock_timeout value" "$MAIL_STORE" --config "$tmp/neg.conf" --mbox "$tmp/mb" <"$tmp/m"
printf 'hostname =\n' >"$tmp/emptyhost.conf"
expect_exit 75 "empty input (a filter before mail-store failed): 75, try again" "$MAIL_STORE" --maildir "$md" </dev/null
expect_exit 78 "empty hostname in mail.conf" "$MAIL_STORE" --config "$tmp/emptyhost.conf" --maildir "$md" <"$tmp/m"
printf 'home_mailbox = /var/mail/x\n' >"$tmp/abs.conf"
expect_exit 78 "absolute home_mailbox refused" env HOME="$tmp" "$MAIL_STORE" --config "$tmp/abs.conf" <"$tmp/m"
printf 'lock_timeout = 1\n' >"$tmp/ok.conf"
expect_exit 64 "flags override the file (and are checked)" "$MAIL_STORE" --config "$tmp/ok.conf" --lock-timeout x --mbox "$tmp/mb" <"$tmp/m"

long=$(head -c 150 /dev/zero | tr '\0' h)
expect_exit 0 "a 150-byte host name fits in a file name" "$MAIL_STORE" --maildir "$tmp/longhost" --hostname "$long" <"$tmp/m"
expect_exit 64 "a 300-byte host name is refused" "$MAIL_STORE" --maildir "$tmp/longhost" --hostname "$long$long" <"$tmp/m"

touch "$tmp/file"
expect_exit 73 "Maildir below a plain file cannot be created" "$MAIL_STORE" --maildir "$tmp/file/Maildir" <"$tmp/m"
expect_exit 73 "mbox below a plain file cannot be created" "$MAIL_STORE" --mbox "$tmp/file/mbox" <"$tmp/m"
expect_exit 75 "unreadable stdin is a temporary failure" sh -c "'$MAIL_STORE' --maildir '$md' <&-"
is "$(count_files "$md/new")$(count_files "$md/tmp")" 00 "and leaves nothing behind"

# Escaping: untrusted bytes never reach stderr raw.
expect_exit 73 "control characters in a path are escaped in the reason" "$MAIL_STORE" --maildir "$tmp/file/$(printf 'a\033b')" <"$tmp/m"
stderr_has 'a\\x1bb' "ESC shown as \\x1b"

done_testing
