# A tiny OCI registry for SkopeoDigestTest: serves /v2/, manifests by tag and blobs from a
# directory laid out as <root>/<repo>/manifests/<tag> and <root>/<repo>/blobs/<digest>.
# Usage: fake-oci-registry.py <bind-address> <root>; prints the bound port on the first line.
import http.server
import os
import sys

ROOT = sys.argv[2]


class Registry(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _reply(self, send_body):
        path = self.path.split("?", 1)[0]
        if path in ("/v2", "/v2/"):
            body, ctype = b"{}", "application/json"
        else:
            rel = path[len("/v2/"):] if path.startswith("/v2/") else None
            file = os.path.normpath(os.path.join(ROOT, rel)) if rel else None
            if not file or not file.startswith(ROOT) or not os.path.isfile(file):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with open(file, "rb") as f:
                body = f.read()
            ctype = ("application/vnd.oci.image.manifest.v1+json" if "/manifests/" in path
                     else "application/octet-stream")
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def do_GET(self):
        self._reply(True)

    def do_HEAD(self):
        self._reply(False)

    def log_message(self, fmt, *args):
        sys.stderr.write("registry: " + (fmt % args) + "\n")


server = http.server.ThreadingHTTPServer((sys.argv[1], 0), Registry)
print(server.server_address[1], flush=True)
server.serve_forever()
