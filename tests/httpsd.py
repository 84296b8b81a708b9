#!/usr/bin/env python3
"""A small HTTPS server for the MTA-STS tests.

usage: httpsd.py PORTFILE DIR CERT KEY

Listens on a free loopback port, written to PORTFILE once it listens.
GET /.well-known/mta-sts.txt with "Host: NAME" answers DIR/NAME.txt as
text/plain, or 404; DIR/NAME.redirect makes it answer 301 to the URL in
that file instead. Each request is appended to DIR/log as "NAME PATH".
"""
import http.server
import os
import ssl
import sys

portfile, root, cert, key = sys.argv[1:5]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        with open(os.path.join(root, "log"), "a") as f:
            f.write("%s %s\n" % (host, self.path))
        base = os.path.join(root, os.path.basename(host))
        if self.path == "/.well-known/mta-sts.txt" and os.path.exists(base + ".redirect"):
            self.send_response(301)
            self.send_header("Location", open(base + ".redirect").read().strip())
            self.end_headers()
            return
        if self.path != "/.well-known/mta-sts.txt" or not os.path.exists(base + ".txt"):
            self.send_error(404)
            return
        body = open(base + ".txt", "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
