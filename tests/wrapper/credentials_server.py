"""A container credentials endpoint like Lambda SnapStart's
(AWS_CONTAINER_CREDENTIALS_FULL_URI): answers GET with the key pair given in
its environment when the Authorization header matches TOKEN, else 401. Prints
"listening on PORT", then one line per request."""
import http.server
import json
import os
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.headers.get("Authorization") == os.environ["TOKEN"]
        print(f"request {self.path} auth={'ok' if ok else 'bad'}", flush=True)
        if not ok:
            self.send_response(401)
            self.end_headers()
            return
        body = json.dumps({"AccessKeyId": os.environ["KEY_ID"], "SecretAccessKey": os.environ["SECRET"],
                           "Token": "", "Expiration": "2099-01-01T00:00:00Z"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on {server.server_address[1]}", flush=True)
sys.stdout.flush()
server.serve_forever()
