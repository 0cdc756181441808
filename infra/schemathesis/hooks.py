"""Schemathesis hooks for `make api-fuzz` (run.sh loads them with SCHEMATHESIS_HOOKS).

- Webhook endpoints may only point at a receiver on 127.0.0.1 that this module
  runs: every body of `POST /v1/webhooks` and `PATCH /v1/webhooks/{id}` gets
  its `url` replaced just before it is sent. The gateway also runs with
  WEBHOOK_ALLOW_PRIVATE=loopback, which refuses and never dials any other
  host, so nothing is ever sent off the machine.
- The check `no_foreign_secret` fails a response whose body holds a key
  secret or a webhook signing secret that the very call did not issue.
"""

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import schemathesis


class _Receiver(BaseHTTPRequestHandler):
    """A webhook endpoint that accepts every delivery."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


_server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
threading.Thread(target=_server.serve_forever, daemon=True).start()
RECEIVER = f"http://127.0.0.1:{_server.server_address[1]}/hooks"

_WEBHOOK_WRITES = {("POST", "/v1/webhooks"), ("PATCH", "/v1/webhooks/{id}")}
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"']*")


@schemathesis.hook
def before_call(context, case, kwargs):
    op = (case.operation.method.upper(), case.operation.path)
    if op not in _WEBHOOK_WRITES:
        return
    if isinstance(case.body, dict):
        if op[0] == "POST" or "url" in case.body:
            case.body["url"] = RECEIVER
    elif isinstance(case.body, str):
        case.body = _URL.sub(RECEIVER, case.body)
    elif isinstance(case.body, bytes):
        case.body = _URL.sub(RECEIVER, case.body.decode("utf-8", "replace")).encode()


# A key secret (of any brand, or of the form before brands) or a webhook
# signing secret, whole.
_SECRET = re.compile(r"(?:[a-z]{2,16}_)?sk_(?:test|live)_[0-9A-Za-z]{61}|whsec_[A-Za-z0-9+/]{43}=")

# The calls that issue a secret: their success status and the field holding it.
_ISSUERS = {
    ("POST", "/v1/keys"): (201, "secret"),
    ("POST", "/v1/keys/{id}/reset"): (200, "secret"),
    ("POST", "/v1/webhooks"): (201, "signing_secret"),
    ("POST", "/v1/webhooks/{id}/rotate-secret"): (200, "signing_secret"),
}

# Every secret issued in this run, with the fingerprint of the response that
# issued it (a check may run again on the same response while shrinking).
_issued = {}


def _header(response, name):
    for k, v in response.headers.items():
        if k.lower() == name:
            return v[0] if isinstance(v, list) and v else v
    return None


@schemathesis.check
def no_foreign_secret(ctx, response, case):
    """No response carries a secret the call itself did not just issue."""
    op = (case.operation.method.upper(), case.operation.path)
    found = set(_SECRET.findall(response.text))
    allowed = set()
    issuer = _ISSUERS.get(op)
    if issuer and response.status_code == issuer[0]:
        body = response.json()
        secret = body.get(issuer[1]) if isinstance(body, dict) else None
        if not isinstance(secret, str) or not _SECRET.fullmatch(secret):
            raise AssertionError(f"{issuer[1]} is missing or not secret-shaped")
        fingerprint = hashlib.sha256(response.content).hexdigest()
        if _header(response, "idempotent-replayed") == "true":
            # A replay hands back the secret of the create it repeats, which
            # this check may not have seen (Schemathesis does not check every
            # request it makes); the API replays only the same user's retry.
            _issued.setdefault(secret, fingerprint)
        elif _issued.setdefault(secret, fingerprint) != fingerprint:
            raise AssertionError("a secret was issued twice")
        allowed.add(secret)
    foreign = found - allowed
    if op == ("GET", "/v1/openapi.json"):
        foreign &= set(_issued)  # the document's examples are no one's secrets
    if foreign:
        raise AssertionError(f"the response holds {len(foreign)} secret(s) this call did not issue")
