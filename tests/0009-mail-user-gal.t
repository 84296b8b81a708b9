#!/bin/sh
# mail-user's global address list: find, and export as vCard and LDIF read
# back with python3-vobject and python3-ldap's ldif module.
. "${top_srcdir:-.}/tests/lib.sh"

use_mail_conf "example.org"

bob=$(printf 'Bob M\303\274ller')                       # precomposed ü
ann=$(printf 'M\303\274ller, Ann; Dr.')                 # comma, semicolon
zoe=$(printf 'Zo\303\253 \303\205ngstr\303\266m')
nfd=$(printf 'Mu\314\210nch Bj\303\266rn')               # ü as u + combining diaeresis
long=$(printf 'Maximiliane Ud\303\253 \303\226zt\303\274rk-Gro\303\237mann von und zu \303\204\303\237\303\274ng \346\227\245\346\234\254\350\252\236 Caf\303\251')
mu add bob@example.org --name "$bob" --address bobby@example.org </dev/null
mu add ann@example.org --name "$ann" </dev/null
mu add zoe@example.org --name "$zoe" </dev/null
mu add carol@example.org </dev/null
mu add nfd@example.org --name "$nfd" </dev/null
mu add long@example.org --name "$long" </dev/null
mu add off@example.org --name "Offline M$(printf '\303\274')ller" </dev/null
mu disable off@example.org

# ---- find ----

is "$(mu find muller)" "$(printf 'bob@example.org\t%s\tactive\nann@example.org\t%s\tactive' "$bob" "$ann")" \
	"find muller: accents ignored, disabled accounts left out"
is "$(mu find "$(printf 'M\303\234LLER')")" "$(printf 'bob@example.org\t%s\tactive\nann@example.org\t%s\tactive' "$bob" "$ann")" \
	"find MÜLLER: any case"
is "$(mu find "$(printf 'm\303\274ller')" | cut -f1 | tr '\n' ' ')" "bob@example.org ann@example.org " "find müller"
is "$(mu find "$(printf 'mu\314\210ller')" | cut -f1 | tr '\n' ' ')" "bob@example.org ann@example.org " "find with a decomposed ü"
is "$(mu find munch | cut -f1)" "nfd@example.org" "a decomposed name is found by plain letters"
is "$(mu find "$(printf 'M\303\234NCH')" | cut -f1)" "nfd@example.org" "and by precomposed capitals"
is "$(mu find ANGSTROM | cut -f1)" "zoe@example.org" "find ANGSTROM finds Ångström"
is "$(mu find bobby | cut -f1)" "bob@example.org" "find matches addresses= addresses"
is "$(mu find CAROL@ | cut -f1)" "carol@example.org" "and the address itself"
is "$(mu find grossmann | cut -f1)" "long@example.org" "ß matches ss"
out=$(mu find zzz)
is "$?:$out" "1:" "no match: exit 1, no output"
out=$(mu find offline)
is "$?:$out" "1:" "a disabled account is not found"
expect_exit 65 "a term in invalid UTF-8" mu find "$(printf 'x\377')"

# ---- vCard ----

py=$(python_with vobject ldif)
check "python3 with vobject and ldif (python3-vobject, python3-ldap)" test -n "$py"
expect_exit 0 "export --vcard" sh -c "'$MAIL_USER' export --vcard >'$tmp/gal.vcf'"
cat >"$tmp/vcardcheck.py" <<'EOF'
import sys, vobject
raw = open(sys.argv[1], 'rb').read()
if raw.count(b'\n') != raw.count(b'\r\n'):
    print('bare LF')
for line in raw.split(b'\r\n'):
    if len(line) > 75:
        print('line over 75 octets:', line)
for c in vobject.readComponents(raw.decode('utf-8')):
    n = c.contents.get('n')
    print(c.version.value, c.fn.value,
          ','.join(e.value for e in c.contents.get('email', [])),
          '%s/%s' % (n[0].value.family, n[0].value.given) if n else '-',
          c.uid.value, sep='|')
EOF
"$py" "$tmp/vcardcheck.py" "$tmp/gal.vcf" >"$tmp/vcard.out" 2>&1
is "$?" 0 "vobject reads every card"
is "$(cat "$tmp/vcard.out")" "$(printf '%s\n' \
	"4.0|$bob|bob@example.org,bobby@example.org|M$(printf '\303\274')ller/Bob|mailto:bob@example.org" \
	"4.0|$ann|ann@example.org|Dr./M$(printf '\303\274')ller, Ann;|mailto:ann@example.org" \
	"4.0|$zoe|zoe@example.org|$(printf '\303\205ngstr\303\266m')/$(printf 'Zo\303\253')|mailto:zoe@example.org" \
	"4.0|carol@example.org|carol@example.org|-|mailto:carol@example.org" \
	"4.0|$nfd|nfd@example.org|$(printf 'Bj\303\266rn')/$(printf 'Mu\314\210nch')|mailto:nfd@example.org" \
	"4.0|$long|long@example.org|$(printf 'Caf\303\251')/${long% *}|mailto:long@example.org")" \
	"FN, EMAIL, N and UID as written: escapes, non-ASCII and folded lines undone; CRLF, 75 octets; the disabled left out"
check "the long name was folded" grep -q "^ " "$tmp/gal.vcf"
check "comma and semicolon escaped in FN" grep -qF "FN:M$(printf '\303\274')ller\\, Ann\\; Dr." "$tmp/gal.vcf"

# ---- LDIF ----

expect_exit 0 "export --ldif" sh -c "'$MAIL_USER' export --ldif >'$tmp/gal.ldif'"
cat >"$tmp/ldifcheck.py" <<'EOF'
import sys, ldif, ldap.dn
p = ldif.LDIFRecordList(open(sys.argv[1], 'rb'))
p.parse()
for dn, e in p.all_records:
    ldap.dn.str2dn(dn)
    g = lambda k: ','.join(v.decode('utf-8') for v in e.get(k, []))
    print(dn, g('objectClass'), g('cn'), g('sn'), g('givenName'), g('mail'), sep='|')
EOF
"$py" "$tmp/ldifcheck.py" "$tmp/gal.ldif" >"$tmp/ldif.out" 2>&1
is "$?" 0 "ldif.LDIFRecordList parses it, every DN valid"
oc="top,person,organizationalPerson,inetOrgPerson"
base="ou=people,dc=example,dc=org"
is "$(cat "$tmp/ldif.out")" "$(printf '%s\n' \
	"mail=bob@example.org,$base|$oc|$bob|M$(printf '\303\274')ller|Bob|bob@example.org,bobby@example.org" \
	"mail=ann@example.org,$base|$oc|$ann|Dr.|M$(printf '\303\274')ller, Ann;|ann@example.org" \
	"mail=zoe@example.org,$base|$oc|$zoe|$(printf '\303\205ngstr\303\266m')|$(printf 'Zo\303\253')|zoe@example.org" \
	"mail=carol@example.org,$base|$oc|carol@example.org|carol@example.org||carol@example.org" \
	"mail=nfd@example.org,$base|$oc|$nfd|$(printf 'Bj\303\266rn')|$(printf 'Mu\314\210nch')|nfd@example.org" \
	"mail=long@example.org,$base|$oc|$long|$(printf 'Caf\303\251')|${long% *}|long@example.org")" \
	"inetOrgPerson entries: cn, sn, givenName, mail; base DN from domain; the disabled left out"
check "a non-ASCII cn is base64 (cn::)" grep -qx "cn:: $(printf '%s' "$bob" | base64)" "$tmp/gal.ldif"
check "an ASCII cn is plain" grep -qx "cn: carol@example.org" "$tmp/gal.ldif"
check "no line over 76 columns" sh -c "! awk 'length(\$0) > 76' '$tmp/gal.ldif' | grep -q ."

mu export --ldif --base 'ou=Staff,o=Example Corp' >"$tmp/base.ldif"
"$py" "$tmp/ldifcheck.py" "$tmp/base.ldif" >"$tmp/base.out" 2>&1
is "$(head -1 "$tmp/base.out" | cut -d'|' -f1)" "mail=bob@example.org,ou=Staff,o=Example Corp" "--base sets the base DN"
printf 'users_file = %s/users\nlocal_domains = mail.example.net, example.org\nauth_failure_delay = 0\n' "$tmp" >"$tmp/nodomain.conf"
MAIL_CONF=$tmp/nodomain.conf "$MAIL_USER" export --ldif >"$tmp/nodomain.ldif"
check "without domain, the first local domain makes the base DN" \
	grep -qx 'dn: mail=bob@example.org,ou=people,dc=mail,dc=example,dc=net' "$tmp/nodomain.ldif"
# Characters with a meaning in a DN or a vCard value.
mu --users "$tmp/odd" add 'x#=y+z@example.org' --maildir odd --name 'Back\slash "Q" <a>' </dev/null
cat >"$tmp/oddcheck.py" <<'EOF'
import sys, ldif, ldap.dn, vobject
p = ldif.LDIFRecordList(open(sys.argv[1], 'rb'))
p.parse()
for dn, e in p.all_records:
    rdn = ldap.dn.str2dn(dn)[0][0]
    print(rdn[0], rdn[1], e['mail'][0].decode(), e['cn'][0].decode(), sep='|')
for c in vobject.readComponents(open(sys.argv[2], encoding='utf-8').read()):
    print(c.fn.value, c.email.value, sep='|')
EOF
mu --users "$tmp/odd" export --ldif >"$tmp/odd.ldif"
mu --users "$tmp/odd" export --vcard >"$tmp/odd.vcf"
is "$("$py" "$tmp/oddcheck.py" "$tmp/odd.ldif" "$tmp/odd.vcf" 2>&1)" \
	"$(printf '%s\n' 'mail|x#=y+z@example.org|x#=y+z@example.org|Back\slash "Q" <a>' 'Back\slash "Q" <a>|x#=y+z@example.org')" \
	"an address with # = + is escaped in the DN; a backslash in a name survives vCard and LDIF"

expect_exit 64 "export without a format" mu export
expect_exit 64 "export with a stray argument" mu export --vcard extra

done_testing
