#!/bin/sh
# mail-user's aliases file and the resolution of addresses through it.
. "${top_srcdir:-.}/tests/lib.sh"

aliases=$tmp/aliases
conf() { mail_conf "example.org, example.net, old.example"; }
conf >"$tmp/mail.conf"
MAIL_CONF=$tmp/mail.conf
export MAIL_CONF
for u in carol erin dis; do
	mu add $u@example.org </dev/null
done
mu add bob@example.org --address robert@example.org </dev/null
mu add net@example.net </dev/null
mu disable dis@example.org
mu add dave@example.org --mbox mail/dave.mbox </dev/null
md() { echo "$tmp/vmail/example.org/$1/Maildir/"; }

# ---- alias add, del, list ----

expect_exit 0 "alias add creates the file and the alias" mu alias add sales@example.org bob@example.org carol
is "$(cat "$aliases")" "sales@example.org: bob@example.org, carol" "the line written"
expect_exit 0 "alias add to an existing alias" mu alias add Sales@Example.ORG dave@example.org BOB@example.org
is "$(cat "$aliases")" "sales@example.org: bob@example.org, carol, dave@example.org" "targets appended, case folded, no duplicate"
expect_exit 0 "alias add with a quoted command" mu alias add cmd@example.org '|/usr/bin/procmail -a x'
is "$(grep '^cmd@' "$aliases")" 'cmd@example.org: "|/usr/bin/procmail -a x"' "a target with blanks is quoted"
is "$(mu alias list)" "$(printf 'cmd@example.org: "|/usr/bin/procmail -a x"\nsales@example.org: bob@example.org, carol, dave@example.org')" "alias list"
is "$(mu alias list sales@example.org)" "sales@example.org: bob@example.org, carol, dave@example.org" "alias list NAME"
expect_exit 0 "alias del a target" mu alias del sales@example.org carol
is "$(mu alias list sales@example.org)" "sales@example.org: bob@example.org, dave@example.org" "the target is gone"
cp "$aliases" "$tmp/aliases.before"
expect_exit 67 "alias del of a target the alias does not have" mu alias del sales@example.org nobody@example.org
expect_exit 67 "alias del of an unknown alias" mu alias del ghost@example.org
expect_exit 65 "alias add with an invalid name" mu alias add 'bad name@example.org' bob
expect_exit 65 "alias add with an invalid target" mu alias add ok@example.org 'bad target'
expect_exit 65 "alias add with an unbalanced quote" mu alias add ok@example.org '"x@example.org'
expect_exit 65 "alias add with an :include:" mu alias add ok@example.org ':include:/etc/list'
expect_exit 64 "alias add without targets" mu alias add ok@example.org
check "no refused command changed the file" cmp -s "$aliases" "$tmp/aliases.before"
expect_exit 0 "alias del of the whole alias" mu alias del cmd@example.org
is "$(mu alias list cmd@example.org)" "" "it is gone"
is "$(cat "$aliases")" "sales@example.org: bob@example.org, dave@example.org" "and so is its line"

# A hand-written file: comments and continuation lines survive edits.
printf '# staff\nteam@example.org: bob@example.org,\n\tcarol@example.org\n# end of staff\nother: bob\n' >"$aliases"
chmod 640 "$aliases"
expect_exit 0 "alias add to an entry with a continuation line" mu alias add team@example.org x@remote.example
is "$(cat "$aliases")" "$(printf '# staff\nteam@example.org: bob@example.org, carol@example.org, x@remote.example\n# end of staff\nother: bob')" \
	"the entry is rewritten, comments and other entries kept"
is "$(stat -c %a "$aliases")" 640 "the file's mode is kept"

# ---- resolve ----

printf '%s\n' \
	'# the resolution fixture' \
	'postmaster: bob' \
	'@example.net: carol@example.org' \
	'@old.example: @example.org' \
	'sales@example.org: bob@example.org, dave@example.org' \
	'team@example.org: sales@example.org, carol' \
	'erin@example.org: erin@example.org, carol@example.org' \
	'loop1@example.org: loop2@example.org' \
	'loop2@example.org: loop1@example.org' \
	'ext@example.org: someone@remote.example' \
	'cmd@example.org: "|/usr/bin/procmail -a x"' \
	'file@example.org: /var/mail/archive' \
	'both@example.org: bob@example.org, "|/bin/cat"' \
	'gone@example.org: nobody@example.org' >"$aliases"

# resolve_is ADDRESS STATUS EXPECTED DESCRIPTION
resolve_is() {
	_out=$("$MAIL_USER" resolve "$1" 2>"$tmp/stderr")
	_rc=$?
	is "$_rc:$_out" "$2:$3" "$4"
}

resolve_is bob@example.org 0 "local bob@example.org $(md bob)" "an account"
resolve_is BOB@Example.ORG 0 "local bob@example.org $(md bob)" "in any case"
resolve_is bob "0" "local bob@example.org $(md bob)" "a bare name takes the default domain"
resolve_is dave@example.org 0 "local dave@example.org $tmp/vmail/mail/dave.mbox" "an mbox account"
resolve_is bob+tag@example.org 0 "local bob@example.org $(md bob) +tag" "a subaddress prints +tag"
resolve_is bob+tag+more@example.org 0 "local bob@example.org $(md bob) +tag+more" "the detail is all after the first delimiter"
resolve_is robert+x@example.org 0 "local bob@example.org $(md bob) +x" "an addresses= address, with a subaddress"
resolve_is dis@example.org 0 "local dis@example.org $(md dis)" "a disabled account still receives mail"
resolve_is net@example.net 0 "local net@example.net $tmp/vmail/example.net/net/Maildir/" "an account wins over the catch-all"
resolve_is net+y@example.net 0 "local net@example.net $tmp/vmail/example.net/net/Maildir/ +y" "with a subaddress too"
resolve_is postmaster@example.org 0 "local bob@example.org $(md bob)" "a bare local-part alias"
resolve_is postmaster@example.net 0 "local bob@example.org $(md bob)" "applies to every local domain"
resolve_is postmaster@remote.example 0 "remote postmaster@remote.example" "but not to a remote one"
resolve_is anyone@example.net 0 "local carol@example.org $(md carol)" "a catch-all @domain"
resolve_is bob@old.example 0 "local bob@example.org $(md bob)" "an '@domain' target rewrites the domain"
resolve_is nobody@old.example 67 "error nobody@example.org: no such user here" "and the rewritten address must exist"
resolve_is team@example.org 0 "$(printf 'local bob@example.org %s\nlocal dave@example.org %s\nlocal carol@example.org %s' "$(md bob)" "$tmp/vmail/mail/dave.mbox" "$(md carol)")" \
	"nested aliases"
resolve_is erin@example.org 0 "$(printf 'local erin@example.org %s\nlocal carol@example.org %s' "$(md erin)" "$(md carol)")" \
	"an alias that names itself delivers to itself and elsewhere"
out=$(mu resolve loop1@example.org)
rc=$?
is "$rc" 65 "a loop exits 65"
check "with an error line saying loop" sh -c "echo '$out' | grep -q '^error .*loop'"
resolve_is ext@example.org 0 "remote someone@remote.example" "an alias to a remote address"
resolve_is someone@remote.example 0 "remote someone@remote.example" "a remote domain"
resolve_is nobody@example.org 67 "error nobody@example.org: no such user here: nobody@example.org" "an unknown local address exits 67"
resolve_is gone@example.org 67 "error nobody@example.org: no such user here" "an alias to an unknown local address"
resolve_is cmd@example.org 77 "error |/usr/bin/procmail -a x: mail to commands is not allowed (allow_mail_to_commands)" \
	"a |command target is refused (77)"
resolve_is file@example.org 77 "error /var/mail/archive: mail to files is not allowed (allow_mail_to_files)" \
	"a /file target is refused (77)"
resolve_is both@example.org 77 "$(printf 'local bob@example.org %s\nerror |/bin/cat: mail to commands is not allowed (allow_mail_to_commands)' "$(md bob)")" \
	"the other targets of such an alias still resolve"
resolve_is 'not an address' 65 "error not an address: invalid address" "a malformed address exits 65"
out=$(mu resolve bob@example.org nobody@example.org someone@remote.example)
is "$?:$out" "67:$(printf 'local bob@example.org %s\nerror nobody@example.org: no such user here: nobody@example.org\nremote someone@remote.example' "$(md bob)")" \
	"several addresses: each resolved, the first error's status"

{ conf; echo 'allow_mail_to_commands = yes'; echo 'allow_mail_to_files = yes'; } >"$tmp/allow.conf"
out=$(MAIL_CONF=$tmp/allow.conf "$MAIL_USER" resolve cmd@example.org file@example.org)
is "$?:$out" "0:$(printf 'command |/usr/bin/procmail -a x\nfile /var/mail/archive')" \
	"allow_mail_to_commands and allow_mail_to_files = yes accept them"

{ conf; echo 'recipient_delimiter ='; } >"$tmp/nodelim.conf"
out=$(MAIL_CONF=$tmp/nodelim.conf "$MAIL_USER" resolve bob+tag@example.org)
is "$?:$out" "67:error bob+tag@example.org: no such user here: bob+tag@example.org" \
	"an empty recipient_delimiter disables subaddressing"
out=$(MAIL_CONF=$tmp/nodelim.conf "$MAIL_USER" resolve bob@example.org)
is "$?:$out" "0:local bob@example.org $(md bob)" "and plain addresses still resolve"
{ conf; echo 'recipient_delimiter = -+'; } >"$tmp/delims.conf"
out=$(MAIL_CONF=$tmp/delims.conf "$MAIL_USER" resolve bob-x@example.org bob+y@example.org)
is "$?:$out" "0:$(printf 'local bob@example.org %s +x\nlocal bob@example.org %s +y' "$(md bob)" "$(md bob)")" \
	"recipient_delimiter = -+ takes either"

# ---- a malformed aliases file ----

printf '# broken\na@example.org: bob@example.org,\n  carol@example.org\nthis line has no colon\nb@example.org: bob\n' >"$tmp/bad"
cp "$tmp/bad" "$tmp/bad.orig"
expect_exit 65 "alias list refuses a malformed file" mu --aliases "$tmp/bad" alias list
stderr_has "bad:4:" "naming file:LINE"
expect_exit 78 "resolve: a malformed file is a configuration error" mu --aliases "$tmp/bad" resolve bob@example.org
stderr_has "bad:4:" "naming file:LINE"
expect_exit 65 "alias add refuses to rewrite it" mu --aliases "$tmp/bad" alias add c@example.org bob
stderr_has "bad:4:" "naming file:LINE"
expect_exit 65 "index checks the aliases file too" mu --aliases "$tmp/bad" index
stderr_has "bad:4:" "naming file:LINE"
check "the file is unchanged" cmp -s "$tmp/bad" "$tmp/bad.orig"
printf 'a: bob\nb: carol\n\nA: erin\n' >"$tmp/dup"
expect_exit 65 "a name defined twice" mu --aliases "$tmp/dup" alias list
stderr_has "dup:4: a is already defined on line 1" "names both lines"
printf '  b: carol\na: bob\n' >"$tmp/cont2"
expect_exit 65 "a continuation line without an entry" mu --aliases "$tmp/cont2" alias list
stderr_has "cont2:1:" "naming file:LINE"
printf 'a: "bob@example.org\n' >"$tmp/quote"
expect_exit 65 "an unbalanced quote" mu --aliases "$tmp/quote" alias list
stderr_has "quote:1:" "naming file:LINE"
printf 'a: bob, , carol\n' >"$tmp/empty"
expect_exit 65 "an empty target" mu --aliases "$tmp/empty" alias list
stderr_has "empty:1:" "naming file:LINE"

# Blank and comment lines inside an entry are ignored, as Postfix reads
# aliases(5); the editor finds the entry's lines by the same rule.
printf 'staff@example.org: bob,\n\n  # the new hire\n  dave\nother: bob\n' >"$tmp/inner"
is "$(mu --aliases "$tmp/inner" alias list staff@example.org)" "staff@example.org: bob, dave" "comment and blank line inside an entry"
expect_exit 0 "alias del of a target on a continuation line" mu --aliases "$tmp/inner" alias del staff@example.org dave
is "$(mu --aliases "$tmp/inner" alias list staff@example.org)" "staff@example.org: bob" "... removed"
check "... the comment stays" grep -q "# the new hire" "$tmp/inner"
is "$(mu --aliases "$tmp/inner" alias list other)" "other: bob" "... the next entry is untouched"
expect_exit 65 "an alias name starting with # is refused (it would be a comment)" mu alias add '#foo' bob
# A loop through a subaddress is a loop, found at once.
printf 'loop@example.org: loop+1@example.org, loop+2@example.org\n' >"$tmp/subloop"
out=$(mu --aliases "$tmp/subloop" resolve loop@example.org)
is "$?" 65 "a loop through subaddresses"
is "$(printf '%s\n' "$out" | grep -c 'alias loop')" 1 "... reported once"

# A bare name and the same name at the default domain are one target.
printf 'sales@example.org: carol, bob@example.org\n' >"$tmp/bare"
expect_exit 0 "alias del by the qualified form of a bare target" mu --aliases "$tmp/bare" alias del sales@example.org carol@example.org
is "$(mu --aliases "$tmp/bare" alias list sales@example.org)" "sales@example.org: bob@example.org" "... removes it"
expect_exit 0 "alias add of the bare form of a present target" mu --aliases "$tmp/bare" alias add sales@example.org bob
is "$(mu --aliases "$tmp/bare" alias list sales@example.org)" "sales@example.org: bob@example.org" "... adds no duplicate"

done_testing
