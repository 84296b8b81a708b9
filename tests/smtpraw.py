#!/usr/bin/env python3
"""Talk raw SMTP to a server, for what smtplib will not send.

usage: smtpraw.py PORT < script

The script is decoded from Python escapes (\\r, \\n, \\x00, ...) and sent
byte for byte in one write, then the sending side is closed. Prints every
line the server sends until it closes the connection.
"""
import socket
import sys

port = int(sys.argv[1])
script = sys.stdin.read().encode("latin-1").decode("unicode_escape").encode("latin-1")
s = socket.create_connection(("127.0.0.1", port), 10)
s.settimeout(15)
s.sendall(script)
s.shutdown(socket.SHUT_WR)
data = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except socket.timeout:
    data += b"TIMEOUT\r\n"
sys.stdout.write(data.decode("latin-1").replace("\r\n", "\n"))
