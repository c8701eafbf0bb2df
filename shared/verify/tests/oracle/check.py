#!/usr/bin/env python3
"""Oracle for shared/verify/tests/oracle.rs: runs the official SDKs on the cases the Rust test
generated and prints their verdicts as JSON on stdout.

Usage: check.py CASES.json  (the format is written by tests/oracle.rs)

- ElevenLabs: elevenlabs.ElevenLabs(...).webhooks.construct_event(raw_body, sig_header, secret)
  (elevenlabs/webhooks_custom.py), with time.time() pinned to the case's `now`; one call per
  secret, accepted if any secret is.
- Twilio: twilio.request_validator.RequestValidator(token).compute_signature(url, params) and
  .validate(url, params_or_json_body, signature), with repeated form names passed as a
  MultiDict-like object (getall), as Flask/Werkzeug do.
- Forms: urllib.parse.parse_qsl(body, keep_blank_values=True, errors="strict"), the parsing
  the Python web frameworks apply.
"""

import json
import sys
import time
from importlib.metadata import version
from unittest import mock
from urllib.parse import parse_qsl, urlparse

import elevenlabs
from elevenlabs.errors import BadRequestError
from twilio.request_validator import RequestValidator, add_port, remove_port


class MultiDict:
    """Repeated keys, read by RequestValidator.get_values through getall()."""

    def __init__(self, pairs):
        self.pairs = [(k, v) for k, v in pairs]

    def __iter__(self):
        return iter([k for k, _ in self.pairs])

    def __len__(self):
        return len(self.pairs)

    def getall(self, name):
        return [v for k, v in self.pairs if k == name]


def elevenlabs_verdict(client, case):
    """One of: accepted, accepted_not_json (signature fine, body is not JSON: json.loads is the
    SDK's last step), or an error description."""
    secrets = case["secrets"]
    if not secrets:
        return {"accepted": False, "kind": "no secret"}
    kinds = []
    with mock.patch.object(time, "time", return_value=float(case["now"])):
        for secret in secrets:
            try:
                client.webhooks.construct_event(case["body"], case["header"], secret)
                return {"accepted": True, "kind": "accepted"}
            except json.JSONDecodeError:
                return {"accepted": True, "kind": "accepted_not_json"}
            except BadRequestError as e:
                error = getattr(e.body, "error", None) or str(e.body)
                kinds.append("BadRequestError: " + str(error))
            except ValueError as e:  # int() of the timestamp
                kinds.append("ValueError: " + str(e)[:80])
    # The first non-empty secret's error is the informative one ("secret not configured" else).
    nonempty = [k for s, k in zip(secrets, kinds) if s]
    return {"accepted": False, "kind": (nonempty or kinds)[0]}


def twilio_validate(case, params):
    validator = RequestValidator(case["token"])
    try:
        ok = validator.validate(case["url"], params, case["signature"])
        return {"accepted": bool(ok), "kind": "ok" if ok else "invalid"}
    except Exception as e:  # noqa: BLE001 - any exception is a rejection
        return {"accepted": False, "kind": type(e).__name__ + ": " + str(e)[:80]}


def python_variants(url):
    """The two URLs RequestValidator.validate signs (None where it raises)."""
    try:
        parsed = urlparse(url)
        return [remove_port(parsed), add_port(parsed)]
    except Exception:  # noqa: BLE001
        return None


def form_verdict(body):
    try:
        return {"pairs": [list(p) for p in parse_qsl(body, keep_blank_values=True, errors="strict")]}
    except UnicodeDecodeError:
        return {"pairs": None}


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    client = elevenlabs.ElevenLabs(api_key="oracle-no-network")
    out = {
        "versions": {"elevenlabs": version("elevenlabs"), "twilio": version("twilio")},
        "elevenlabs": [elevenlabs_verdict(client, c) for c in cases["elevenlabs"]],
        "twilio_signature": [
            RequestValidator(c["token"]).compute_signature(c["url"], MultiDict(c["params"]))
            for c in cases["twilio_signature"]
        ],
        "twilio_validate": [
            dict(twilio_validate(c, MultiDict(c["params"])), variants=python_variants(c["url"]))
            for c in cases["twilio_validate"]
        ],
        "twilio_json": [
            dict(twilio_validate(c, c["body"]), variants=python_variants(c["url"]))
            for c in cases["twilio_json"]
        ],
        "forms": [form_verdict(body) for body in cases["forms"]],
    }
    json.dump(out, sys.stdout, ensure_ascii=True)


if __name__ == "__main__":
    main()
