#!/bin/sh
# Every program has a man page, --help, --version and a place in README;
# every man page is mandoc -Tlint clean.
. "${top_srcdir:-.}/tests/lib.sh"

for page in "$top_srcdir"/man/*.[1-8]; do
	out=$(mandoc -Tlint -W warning "$page" 2>&1)
	is "$out" "" "mandoc -Tlint $(basename "$page")"
done
for dir in "$top_srcdir"/cmd/*/; do
	prog=$(basename "$dir")
	check "$prog has a man page" sh -c "ls '$top_srcdir'/man/$prog.[1-8] >/dev/null 2>&1"
	check "$prog is in README" grep -q "$prog" "$top_srcdir/README"
	check "$prog --help" sh -c "'$top_builddir/$prog' --help | grep -q usage:"
	check "$prog --version" sh -c "'$top_builddir/$prog' --version | grep -q '^$prog (mail-toolkit) [0-9]'"
done

done_testing
