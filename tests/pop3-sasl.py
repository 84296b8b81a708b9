#!/usr/bin/env python3
"""Log in to a POP3 server with AUTH, GNU SASL's gsasl as the client.

usage: pop3-sasl.py PORT MECH LOGIN PASSWORD

Sends AUTH MECH, then shuttles base64 lines: gsasl's "Output from client:"
lines to the server, the server's "+ CHALLENGE" lines back to gsasl.
Prints the server's final line and exits 0 only when it is +OK. With
SCRAM-SHA-256 the client checks the server's signature before it sends
its last response, so +OK means both sides proved themselves.
"""
import socket
import subprocess
import sys

port, mech, login, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
sock = socket.create_connection(("127.0.0.1", port), 10)
f = sock.makefile("rwb")
f.readline()   # the greeting
client = subprocess.Popen(
    ["gsasl", "--client", "--no-cb", "--mechanism", mech,
     "--authentication-id", login, "--password", password],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def client_output():
    while True:
        line = client.stdout.readline()
        if not line:
            return None
        if line.startswith("Output from client:"):
            return client.stdout.readline().strip()


f.write(("AUTH %s\r\n" % mech).encode())
f.flush()
final = "-ERR no answer"
while True:
    answer = f.readline().decode().rstrip("\r\n")
    if not answer.startswith("+ ") and answer != "+":
        final = answer
        break
    challenge = answer[2:]
    if challenge:
        client.stdin.write(challenge + "\n")
        client.stdin.flush()
    message = client_output()
    if message is None:
        break
    f.write((message + "\r\n").encode())   # an empty response is an empty line (RFC 5034 4)
    f.flush()
client.kill()
client.wait(timeout=10)
f.write(b"QUIT\r\n")
f.flush()
print(final)
sys.exit(0 if final.startswith("+OK") else 1)
