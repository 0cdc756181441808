"""Tests of hooks.py: run.sh runs them before fuzzing (python -m unittest)."""

import json
import unittest
from types import SimpleNamespace

import hooks

KEY_SECRET = "paykeys_sk_test_" + "A" * 61
OTHER_SECRET = "paykeys_sk_live_" + "b" * 61
SIGNING_SECRET = "whsec_" + "C" * 43 + "="


def case(method, path, body=None):
    return SimpleNamespace(operation=SimpleNamespace(method=method, path=path), body=body)


def response(status, body, headers=None):
    text = json.dumps(body)
    return SimpleNamespace(status_code=status, text=text, content=text.encode(),
                           headers=headers or {}, json=lambda: body)


class NoForeignSecret(unittest.TestCase):
    def test_check(self):
        hooks._issued.clear()
        issued = response(201, {"key": {"id": "ck_test_x"}, "secret": KEY_SECRET})
        steps = [
            ("create issues a secret", case("POST", "/v1/keys"), issued, None),
            ("the same response checked again while shrinking", case("POST", "/v1/keys"), issued, None),
            ("a replay of that create", case("POST", "/v1/keys"),
             response(201, {"key": {"id": "ck_test_x"}, "secret": KEY_SECRET}, {"Idempotent-Replayed": ["true"]}), None),
            ("another create issuing the same secret", case("POST", "/v1/keys"),
             response(201, {"key": {"id": "ck_test_y"}, "secret": KEY_SECRET}), "issued twice"),
            ("a replay of a create this check did not see", case("POST", "/v1/keys"),
             response(201, {"key": {}, "secret": OTHER_SECRET}, {"idempotent-replayed": ["true"]}), None),
            ("a replay without its secret", case("POST", "/v1/keys"),
             response(201, {"key": {}}, {"idempotent-replayed": ["true"]}), "missing"),
            ("a read that shows a secret", case("GET", "/v1/keys/{id}"),
             response(200, {"name": KEY_SECRET}), "did not issue"),
            ("an error that echoes a secret", case("POST", "/v1/keys/{id}/verify"),
             response(400, {"error": {"message": "bad " + "paykeys_sk_live_" + "f" * 61}}), "did not issue"),
            ("a webhook create with its signing secret", case("POST", "/v1/webhooks"),
             response(201, {"endpoint": {}, "signing_secret": SIGNING_SECRET}), None),
            ("a create answering without its secret", case("POST", "/v1/webhooks"),
             response(201, {"endpoint": {}}), "missing"),
            ("the document's example secrets", case("GET", "/v1/openapi.json"),
             response(200, {"example": "paykeys_sk_test_" + "e" * 61}), None),
            ("the document holding an issued secret", case("GET", "/v1/openapi.json"),
             response(200, {"example": KEY_SECRET}), "did not issue"),
            ("a read with no secret", case("GET", "/v1/keys"), response(200, {"data": []}), None),
        ]
        for name, c, r, want in steps:
            with self.subTest(name):
                if want is None:
                    hooks.no_foreign_secret(None, r, c)
                else:
                    with self.assertRaisesRegex(AssertionError, want):
                        hooks.no_foreign_secret(None, r, c)


class WebhookURLs(unittest.TestCase):
    def test_before_call(self):
        tests = [
            ("create", case("POST", "/v1/webhooks", {"url": "https://example.com/x"}), {"url": hooks.RECEIVER}),
            ("create without url", case("POST", "/v1/webhooks", {"description": "d"}),
             {"description": "d", "url": hooks.RECEIVER}),
            ("patch with url", case("PATCH", "/v1/webhooks/{id}", {"url": 5}), {"url": hooks.RECEIVER}),
            ("patch without url", case("PATCH", "/v1/webhooks/{id}", {"status": "disabled"}), {"status": "disabled"}),
            ("raw text", case("POST", "/v1/webhooks", '{"url":"http://10.0.0.1/a"}'), '{"url":"' + hooks.RECEIVER + '"}'),
            ("another route", case("POST", "/v1/keys", {"url": "https://example.com"}), {"url": "https://example.com"}),
        ]
        for name, c, want in tests:
            with self.subTest(name):
                hooks.before_call(None, c, {})
                self.assertEqual(c.body, want)
        self.assertTrue(hooks.RECEIVER.startswith("http://127.0.0.1:"))


if __name__ == "__main__":
    unittest.main()
