#!/usr/bin/env python3
"""mailcheck: read what mail-store wrote with Python's mailbox module, an
implementation independent of ours, and report on it for the shell tests.

  mailcheck.py maildir DIR             count messages; fail if a file name's
                                       ,S= or ,W= disagrees with its content
  mailcheck.py maildir-get DIR I       write message I (by file name order)
  mailcheck.py folders DIR             list Maildir++ folders, one per line
  mailcheck.py mbox FILE               count messages
  mailcheck.py mbox-get FILE I         write message I, mboxrd-unquoted
  mailcheck.py mbox-from FILE I        print message I's From_ line
"""
import mailbox
import re
import sys


def delivery_order(name):
    # time.M<usec>P<pid>Q<n>...: compare the numbers, not the text.
    m = re.match(r"(\d+)\.M(\d+)P(\d+)Q(\d+)", name)
    return tuple(int(x) for x in m.groups()) if m else (0, 0, 0, 0)


def maildir_messages(path):
    md = mailbox.Maildir(path, factory=None, create=False)
    md._refresh()
    return md, sorted(md.keys(), key=lambda k: delivery_order(md._toc[k].split("/")[-1]))


def check_sizes(md, keys):
    bad = 0
    for k in keys:
        name = md._toc[k].split("/")[-1]
        data = md.get_bytes(k)
        m = re.search(r",S=(\d+)", name)
        w = re.search(r",W=(\d+)", name)
        if not m or int(m.group(1)) != len(data):
            print(f"{name}: S= does not match size {len(data)}", file=sys.stderr)
            bad += 1
        if not w or int(w.group(1)) != len(data) + data.count(b"\n"):
            print(f"{name}: W= does not match CRLF size", file=sys.stderr)
            bad += 1
    return bad


def mboxrd_unquote(data):
    return re.sub(rb"(?m)^>(>*From )", rb"\1", data)


def main(argv):
    cmd = argv[1]
    if cmd == "maildir":
        md, keys = maildir_messages(argv[2])
        print(len(keys))
        return 1 if check_sizes(md, keys) else 0
    if cmd == "maildir-get":
        md, keys = maildir_messages(argv[2])
        sys.stdout.buffer.write(md.get_bytes(keys[int(argv[3])]))
        return 0
    if cmd == "folders":
        md = mailbox.Maildir(argv[2], factory=None, create=False)
        for f in sorted(md.list_folders()):
            print(f)
        return 0
    if cmd in ("mbox", "mbox-get", "mbox-from"):
        mb = mailbox.mbox(argv[2], factory=None, create=False)
        keys = sorted(mb.keys())
        if cmd == "mbox":
            print(len(keys))
        elif cmd == "mbox-get":
            sys.stdout.buffer.write(mboxrd_unquote(mb.get_bytes(keys[int(argv[3])], from_=False)))
        else:
            print(mb.get_message(keys[int(argv[3])]).get_from())
        return 0
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
