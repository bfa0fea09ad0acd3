# A protected API on Python's http.server, routed the way an app on it reads self.path (the raw
# request target): urlsplit, percent-decode, then resolve . and .. and drop empty segments as
# SimpleHTTPRequestHandler.translate_path does. /v1/admin and below need admin:manage, the rest is
# the broad handler. Prints HIT <handler> <repr of the target> per request, LISTEN <port> once up.
import posixpath
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def route(target):
    path = urllib.parse.urlsplit(target).path
    path = urllib.parse.unquote(path, errors="surrogateescape")
    path = posixpath.normpath(path)
    words = [w for w in path.split("/") if w and w not in (".", "..")]
    path = "/" + "/".join(words)
    return "admin" if path == "/v1/admin" or path.startswith("/v1/admin/") else "broad"


class Handler(BaseHTTPRequestHandler):
    def answer(self):
        name = route(self.path)
        print("HIT", name, repr(self.path), flush=True)
        body = ("handler=%s\n" % name).encode()
        self.send_response(200)
        self.send_header("X-Handler", name)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = answer

    def log_message(self, format, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("LISTEN", server.server_address[1], flush=True)
server.serve_forever()
