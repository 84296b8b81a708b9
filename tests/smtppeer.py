#!/usr/bin/env python3
"""A scripted SMTP server for mail-send's tests: it answers as told, so a
test can make a peer refuse a recipient, defer, or drop the connection
in the middle of the data.

usage: smtppeer.py PORTFILE DIR [RULE...]

Listens on a free loopback port, written to PORTFILE once it listens.
Serves connections one after the other until killed. Every message it
accepts is written to DIR/msg.N, byte for byte as received (CR LF, dot
stuffing undone), with DIR/env.N holding "MAIL FROM" and "RCPT TO" lines;
DIR/log has every command, one per line, and "CONNECT <time>" for each
connection.

Rules:
  rcpt:ADDRESS=CODE TEXT   reply to RCPT TO:<ADDRESS>
  mail=CODE TEXT           reply to MAIL
  data=CODE TEXT           reply to the end of data
  drop-in-data             close the connection after reading part of the data
  greet=CODE TEXT          the greeting
  slow-data=SECONDS        wait before replying to the end of data
"""
import os
import socket
import sys
import time

portfile, outdir = sys.argv[1], sys.argv[2]
rules = {}
for r in sys.argv[3:]:
    if r.startswith("rcpt:"):
        k, v = r[5:].split("=", 1)
        rules["rcpt:" + k.lower()] = v
    elif "=" in r:
        k, v = r.split("=", 1)
        rules[k] = v
    else:
        rules[r] = True

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(5)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(portfile + ".tmp", portfile)
count = 0


def log(line):
    with open(os.path.join(outdir, "log"), "a") as f:
        f.write(line + "\n")


def serve(conn):
    global count
    rf = conn.makefile("rb")

    def send(s):
        conn.sendall(s.encode() + b"\r\n")

    log("CONNECT %.3f" % time.time())
    send(rules.get("greet", "220 peer.test ESMTP scripted"))
    if rules.get("greet", "220").startswith("5"):
        return
    sender, rcpts = None, []
    while True:
        line = rf.readline()
        if not line:
            return
        cmd = line.decode("latin-1").rstrip("\r\n")
        log(cmd)
        verb = cmd[:4].upper()
        if verb in ("EHLO", "HELO"):
            if verb == "EHLO":
                send("250-peer.test\r\n250-8BITMIME\r\n250-SIZE 100000000\r\n250 PIPELINING")
            else:
                send("250 peer.test")
        elif verb == "MAIL":
            reply = rules.get("mail", "250 2.1.0 Ok")
            if reply.startswith("2"):
                sender, rcpts = cmd[10:].split(" ")[0], []
            send(reply)
        elif verb == "RCPT":
            addr = cmd[8:].strip().split(" ")[0].strip("<>").lower()
            reply = rules.get("rcpt:" + addr, "250 2.1.5 Ok")
            if reply.startswith("2"):
                rcpts.append(addr)
            send(reply)
        elif verb == "DATA":
            if not rcpts:
                send("554 5.5.1 No valid recipients")
                continue
            send("354 End data with <CR><LF>.<CR><LF>")
            data = b""
            while True:
                chunk = rf.readline()
                if not chunk:
                    return
                if "drop-in-data" in rules and len(data) > 50:
                    conn.shutdown(socket.SHUT_RDWR)
                    return
                if chunk == b".\r\n":
                    break
                if chunk.startswith(b"."):
                    chunk = chunk[1:]
                data += chunk
            if "slow-data" in rules:
                time.sleep(float(rules["slow-data"]))
            reply = rules.get("data", "250 2.0.0 Ok: queued")
            if reply.startswith("2"):
                count += 1
                with open(os.path.join(outdir, "msg.%d" % count), "wb") as f:
                    f.write(data)
                with open(os.path.join(outdir, "env.%d" % count), "w") as f:
                    f.write("MAIL FROM %s\n" % sender)
                    for r in rcpts:
                        f.write("RCPT TO %s\n" % r)
            send(reply)
        elif verb == "RSET":
            sender, rcpts = None, []
            send("250 2.0.0 Ok")
        elif verb == "QUIT":
            send("221 2.0.0 Bye")
            return
        elif verb == "NOOP":
            send("250 2.0.0 Ok")
        else:
            send("502 5.5.2 Not implemented")


while True:
    c, _ = srv.accept()
    c.settimeout(30)
    try:
        serve(c)
    except (OSError, ValueError):
        pass
    finally:
        c.close()
