#!/usr/bin/env python3
"""Run GNU SASL's gsasl client against tests/sasl-server (lib/auth).

usage: gsasl-login.py SASL-SERVER USERS REALM MECH LOGIN PASSWORD

Shuttles base64 lines between the two: gsasl's "Output from client:"
lines go to the server, the server's "+ CHALLENGE" lines go back to
gsasl. Prints the server's final line (OK USER / NO REASON) and exits 0
only when the server said OK. With SCRAM that also proves gsasl accepted
the server's signature: it sends the final empty response only then.
(gsasl on stdin cannot tell when the server is done, so its own exit
status says nothing and it is stopped at the end.)
"""
import subprocess
import sys

server_prog, users, realm, mech, login, password = sys.argv[1:7]
client = subprocess.Popen(
    ["gsasl", "--client", "--no-cb", "--mechanism", mech,
     "--authentication-id", login, "--password", password],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    text=True)
server = subprocess.Popen([server_prog, users, realm, mech],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def client_output():
    """The next base64 message gsasl prints, or None when it is done."""
    while True:
        line = client.stdout.readline()
        if not line:
            return None
        if line.startswith("Output from client:"):
            return client.stdout.readline().strip()


final = "NO no answer"
message = client_output()   # SCRAM and PLAIN speak first
while message is not None:
    server.stdin.write((message or "=") + "\n")
    server.stdin.flush()
    answer = server.stdout.readline().strip()
    if not answer.startswith("+ "):
        final = answer
        break
    client.stdin.write(answer[2:] + "\n")
    client.stdin.flush()
    message = client_output()
client.kill()
client.wait(timeout=10)
server.stdin.close()
server.wait(timeout=10)
print(final)
sys.exit(0 if final.startswith("OK ") else 1)
