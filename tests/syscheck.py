#!/usr/bin/env python3
"""syscheck: check the durability contract in an strace log of one delivery.

  syscheck.py maildir TRACE    the message file is fsync'd after its last
                               write and before its link into new/; new/ is
                               fsync'd after the link and before exit 0
  syscheck.py mbox TRACE PATH  PATH is fsync'd after its last write and
                               before exit 0
  syscheck.py queue TRACE      (mail-recv) the queue file is fsync'd after
                               its last write, and msg/ after the rename
                               into it, both before the reply "queued"
In both, every directory made (mkdir = 0) and every file created (but for
tmp/ files and locks) has the directory holding it fsync'd before exit 0. Prints one line per broken rule
and exits 1 if there is any. The trace comes from
  strace -f -o TRACE -e trace=openat,write,fsync,link,rename,mkdir,close,exit_group
"""
import os
import re
import sys

LINE = re.compile(r'^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+|\?)')


def parse(path):
    calls = []
    for line in open(path):
        m = LINE.match(line)
        if m:
            calls.append((m.group(1), m.group(2), m.group(3)))
    return calls


def strings(args):
    return re.findall(r'"((?:[^"\\]|\\.)*)"', args)


def check(kind, trace, mbox=None):
    calls = parse(trace)
    fds = {}          # fd -> path while open
    events = []       # (index, kind, path)
    created = []      # (index, path) of new directories and files
    for i, (name, args, ret) in enumerate(calls):
        s = strings(args)
        if name == "openat" and ret not in ("?",) and int(ret) >= 0:
            path = os.path.normpath(s[0])
            fds[int(ret)] = path
            if "O_CREAT" in args and ("O_EXCL" in args or path == mbox):
                created.append((i, path))
        elif name == "close":
            fds.pop(int(args.split(",")[0]), None)
        elif name == "write":
            fd = int(args.split(",")[0])
            events.append((i, "write", fds.get(fd)))
        elif name == "fsync":
            fd = int(args.split(",")[0])
            events.append((i, "fsync", fds.get(fd)))
        elif name == "mkdir" and ret == "0":
            created.append((i, os.path.normpath(s[0])))
        elif name in ("link", "rename") and ret == "0":
            events.append((i, name, (os.path.normpath(s[0]), os.path.normpath(s[1]))))
        elif name == "exit_group":
            events.append((i, "exit", args.strip()))
    errors = []
    if kind == "queue":
        return check_queue(calls, events)
    exits = [i for i, k, a in events if k == "exit"]
    if not exits or [a for i, k, a in events if k == "exit"][0] != "0":
        return ["the process did not exit 0"]
    end = exits[0]

    def synced(path, after, before):
        return any(k == "fsync" and a == path and after < i < before for i, k, a in events)

    def last_write(path):
        return max([i for i, k, a in events if k == "write" and a == path], default=-1)

    if kind == "maildir":
        links = [(i, a) for i, k, a in events if k in ("link", "rename")
                 and "/tmp/" in a[0] and "/new/" in a[1]]
        if len(links) != 1:
            return [f"expected one link from tmp/ to new/, saw {len(links)}"]
        at, (src, dst) = links[0]
        if not synced(src, last_write(src), at):
            errors.append("message file not fsync'd between its last write and the link")
        if not synced(os.path.dirname(dst), at, end):
            errors.append("new/ not fsync'd between the link and exit 0")
    else:
        path = os.path.normpath(mbox)
        if last_write(path) < 0:
            errors.append("nothing written to the mbox")
        elif not synced(path, last_write(path), end):
            errors.append("mbox not fsync'd between its last write and exit 0")
    for at, path in created:
        if "/tmp/" in path or re.search(r"\.lock(\.|$)", path):
            continue   # tmp/ files become durable by the link; locks hold no mail
        if not synced(os.path.dirname(path) or ".", at, end):
            errors.append(f"directory of new entry {path} not fsync'd before exit 0")
    return errors


def check_queue(calls, events):
    replies = [i for i, (name, args, ret) in enumerate(calls)
               if name == "write" and "Ok: queued as" in args]
    if len(replies) != 1:
        return [f"expected one reply 'queued', saw {len(replies)}"]
    reply = replies[0]
    renames = [(i, a) for i, k, a in events if k == "rename" and "/tmp/" in a[0] and "/msg/" in a[1]]
    if len(renames) != 1 or renames[0][0] > reply:
        return ["expected one rename from tmp/ to msg/ before the reply"]
    at, (src, dst) = renames[0]
    errors = []
    writes = [i for i, k, a in events if k == "write" and a == src]
    last = max(writes, default=-1)
    if not any(k == "fsync" and a == src and last < i < reply for i, k, a in events):
        errors.append("queue file not fsync'd between its last write and the reply")
    if not any(k == "fsync" and a == os.path.dirname(dst) and at < i < reply for i, k, a in events):
        errors.append("msg/ not fsync'd between the rename and the reply")
    return errors


def main(argv):
    if len(argv) < 3 or argv[1] not in ("maildir", "mbox", "queue"):
        print(__doc__, file=sys.stderr)
        return 64
    errors = check(argv[1], argv[2], argv[3] if len(argv) > 3 else None)
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
