"""Signs requests with the http-message-signatures library (RFC 9421) and
sends them through the local gateway's /demo API: a client this project did
not write, against the authorizer's verification.

Usage: client.py BASE_URL, with the management token in PAYKEYS_TOKEN. It
creates a key that may sign, registers an Ed25519 and a P-256 public key
(one as PEM, one as JWK), and checks that:
  - a signed POST with a body (Content-Digest covered) and a signed GET are
    allowed, with auth_mode signature, by either key (rotation);
  - the same request again (its nonce spent), a tampered query, method or
    signature, and a request signed with a deleted public key are 401;
  - a body changed after signing is refused by the backend (400).
Exits 1 on the first failure, printing what was expected.
"""

import base64
import json
import os
import secrets
import sys
import time

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

COVERED = ("@method", "@authority", "@path", "@query")


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Client:
    def __init__(self, base: str, token: str):
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.token = token

    def manage(self, method: str, path: str, body=None):
        r = self.session.request(
            method, self.base + path, json=body, headers={"Authorization": "Bearer " + self.token}, timeout=30
        )
        return r.status_code, (r.json() if r.content else None)

    def signed(self, signer, key_id: str, method: str, path: str, body: bytes | None = None):
        """A prepared request signed by the library; the body's Content-Digest
        is made and covered by the library itself."""
        headers = {"Content-Type": "application/json"} if body else {}
        req = requests.Request(method, self.base + path, data=body, headers=headers).prepare()
        kwargs = {"body": body} if body else {}
        signer.sign(
            req,
            key_id=key_id,
            nonce=secrets.token_urlsafe(18),
            label="sig1",
            covered_component_ids=COVERED,
            **kwargs,
        )
        return req

    def send(self, req):
        r = self.session.send(req, timeout=30)
        return r.status_code, r.text


failures = 0


def expect(what: str, got: int, want: int, detail: str = ""):
    global failures
    ok = got == want
    print(f"httpsig: {'ok  ' if ok else 'FAIL'} {what}: {got}" + ("" if ok else f", want {want} {detail[:300]}"))
    if not ok:
        failures += 1


def main():
    c = Client(sys.argv[1], os.environ["PAYKEYS_TOKEN"])
    status, k = c.manage(
        "POST",
        "/v1/keys",
        {"name": "rfc 9421 client", "environment": "test", "scopes": ["payments:read", "payments:write"],
         "auth_modes": ["signature"]},
    )
    expect("create a key that may sign", status, 201)
    kid = k["key"]["id"]

    ed_priv = ed25519.Ed25519PrivateKey.generate()
    ed_pem = ed_priv.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    status, ed_pk = c.manage("POST", f"/v1/keys/{kid}/public-keys", {"alg": "ed25519", "public_key": ed_pem})
    expect("register an Ed25519 public key (PEM)", status, 201, str(ed_pk))

    ec_priv = ec.generate_private_key(ec.SECP256R1())
    nums = ec_priv.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": b64url(nums.x.to_bytes(32, "big")), "y": b64url(nums.y.to_bytes(32, "big"))}
    status, ec_pk = c.manage("POST", f"/v1/keys/{kid}/public-keys", {"alg": "ecdsa-p256-sha256", "jwk": jwk})
    expect("register a P-256 public key (JWK), the second one", status, 201, str(ec_pk))
    status, _ = c.manage("POST", f"/v1/keys/{kid}/public-keys", {"alg": "ed25519", "public_key": ed_pem})
    expect("a third public key", status, 409)

    signers = {
        "ed25519": (
            HTTPMessageSigner(
                signature_algorithm=algorithms.ED25519,
                key_resolver=MappingKeyResolver(public_keys={}, private_keys={ed_pk["id"]: ed_priv}),
            ),
            ed_pk["id"],
        ),
        "ecdsa-p256-sha256": (
            HTTPMessageSigner(
                signature_algorithm=algorithms.ECDSA_P256_SHA256,
                key_resolver=MappingKeyResolver(public_keys={}, private_keys={ec_pk["id"]: ec_priv}),
            ),
            ec_pk["id"],
        ),
    }
    body = json.dumps({"amount": 1000, "currency": "EUR"}).encode()
    for alg, (signer, pk_id) in signers.items():
        req = c.signed(signer, pk_id, "POST", "/demo/charges?b=2&a=1", body)
        status, text = c.send(req)
        expect(f"{alg}: signed POST with a body", status, 200, text)
        if status == 200:
            ctx = json.loads(text)["context"]
            expect(f"{alg}: auth_mode is signature", 200 if ctx.get("auth_mode") == "signature" else 0, 200, text)
        status, text = c.send(req)
        expect(f"{alg}: the same request again (nonce spent)", status, 401, text)

        req = c.signed(signer, pk_id, "GET", "/demo/charges")
        status, text = c.send(req)
        expect(f"{alg}: signed GET, no body", status, 200, text)

        req = c.signed(signer, pk_id, "GET", "/demo/charges?limit=10")
        req.url = req.url.replace("limit=10", "limit=1000")
        status, text = c.send(req)
        expect(f"{alg}: query changed after signing", status, 401, text)

        req = c.signed(signer, pk_id, "POST", "/demo/charges", body)
        req.method = "PUT"
        status, text = c.send(req)
        expect(f"{alg}: method changed after signing", status, 401, text)

        req = c.signed(signer, pk_id, "POST", "/demo/charges", body)
        sig = req.headers["Signature"]
        i = sig.index(":") + 1
        req.headers["Signature"] = sig[:i] + ("A" if sig[i] != "A" else "B") + sig[i + 1:]
        status, text = c.send(req)
        expect(f"{alg}: signature bytes changed", status, 401, text)

        req = c.signed(signer, pk_id, "POST", "/demo/charges", body)
        req.prepare_body(json.dumps({"amount": 999999, "currency": "EUR"}).encode(), None)
        status, text = c.send(req)
        expect(f"{alg}: body changed after signing (Content-Digest)", status, 400, text)

    # Rotation: delete the Ed25519 key; the P-256 one keeps working.
    status, _ = c.manage("DELETE", f"/v1/keys/{kid}/public-keys/{ed_pk['id']}")
    expect("delete the Ed25519 public key", status, 204)
    deadline = time.monotonic() + 3
    while True:
        signer, pk_id = signers["ed25519"]
        status, text = c.send(c.signed(signer, pk_id, "GET", "/demo/charges"))
        if status == 401 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    expect("a request signed with the deleted public key", status, 401, text)
    signer, pk_id = signers["ecdsa-p256-sha256"]
    status, text = c.send(c.signed(signer, pk_id, "GET", "/demo/charges"))
    expect("the remaining P-256 key still signs", status, 200, text)

    print(f"httpsig: {failures} failed" if failures else "httpsig: all passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
