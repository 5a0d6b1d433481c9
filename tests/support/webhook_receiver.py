"""A webhook receiver for tests, run as its own process: ``python webhook_receiver.py PORT SECRET OUT``.

It checks each delivery's signature as the README tells receivers to (:func:`signature_ok`, standard
library only), appends one JSON line per accepted delivery to ``OUT`` (``{"id", "member",
"member_sequence", "type", "log_id", "index", "headers_id"}``) and flushes it before answering 200, so a
delivery it acknowledged is on disk even if the process is killed right after. A delivery with a bad
signature is answered 401 and not recorded. ``RECEIVER_REFUSE`` (environment) names a member whose events
are answered 500 (for dead-letter tests). ``RECEIVER_CRASH_AFTER=N``: the process dies (exit 9) right after
recording its N-th delivery, before answering it: the deliverer must send that event again. Killing the
process (SIGKILL) is the other way a test makes it crash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def signature_ok(secret: str, header: str, body: bytes, tolerance_s: int = 300) -> bool:
    """The receiver's check, as the README shows it."""

    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp = fields.get("t", "")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False
    if abs(time.time() - int(timestamp)) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), fields.get("v1", "").encode())


def main() -> None:
    port, secret, out_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    refuse = os.environ.get("RECEIVER_REFUSE")
    crash_after = int(os.environ.get("RECEIVER_CRASH_AFTER", "0"))
    recorded = [0]
    out = open(out_path, "a", encoding="utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if not signature_ok(secret, self.headers.get("Loyalty-Signature", ""), body):
                self.send_response(401)
                self.end_headers()
                return
            event = json.loads(body)
            if refuse is not None and event["member"] == refuse:
                self.send_response(500)
                self.end_headers()
                return
            record = {k: event[k] for k in ("id", "member", "member_sequence", "type", "log_id", "index")}
            record["headers_id"] = self.headers.get("Loyalty-Event-Id")
            out.write(json.dumps(record) + "\n")
            out.flush()
            os.fsync(out.fileno())
            recorded[0] += 1
            if recorded[0] == crash_after:
                os._exit(9)  # recorded, never answered
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.allow_reuse_address = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
