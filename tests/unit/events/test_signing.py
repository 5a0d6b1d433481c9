"""Webhook signatures (:mod:`loyalty_accounts.events.signing`) and the receiver's check the README shows.

Proves: :func:`sign` gives ``t=<unix seconds>,v1=<hex>`` where the hex is HMAC-SHA256 over ``f"{t}."`` and
the body under the secret's UTF-8 bytes (recomputed here with :mod:`hmac`); :func:`verify_signature` accepts
exactly that within the tolerance and any one of several ``v1`` entries, and answers False, never raising,
for a wrong secret, a changed body, a stale or future ``t`` and every malformed header tried; the README's
``signature_ok`` snippet (run from the README itself) agrees with it.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import re
import time
from pathlib import Path
from typing import Callable

import pytest

from loyalty_accounts.events import SIGNATURE_HEADER, new_secret, sign, verify_signature
from loyalty_accounts.events.signing import TOLERANCE_S

ROOT = Path(__file__).resolve().parents[3]
SECRET = "whsec_" + "k" * 43
BODY = b'{"id":"ev_0123","type":"points.earned","member":"c42","points":120,"details":{"note":"\xc2\xbd"}}'
T = 1_764_561_600


def mac(secret: str, timestamp: int | str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_the_header_is_named_as_receivers_are_told() -> None:
    assert SIGNATURE_HEADER == "Loyalty-Signature"


def test_a_secret_is_fresh_url_safe_and_prefixed() -> None:
    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{43}", secret), secret


def test_sign_is_hmac_sha256_over_the_timestamp_and_the_body() -> None:
    assert sign(SECRET, BODY, timestamp=T) == f"t={T},v1={mac(SECRET, T, BODY)}"


def test_sign_defaults_to_now() -> None:
    before = int(time.time())
    header = sign(SECRET, BODY)
    after = int(time.time())
    stamp = int(header.split(",")[0].removeprefix("t="))
    assert before <= stamp <= after
    assert header == f"t={stamp},v1={mac(SECRET, stamp, BODY)}"


def test_what_sign_gives_verifies() -> None:
    assert verify_signature(SECRET, sign(SECRET, BODY, timestamp=T), BODY, now=T)
    assert verify_signature(SECRET, sign(SECRET, BODY), BODY)  # against the clock


def test_a_wrong_secret_or_a_changed_body_does_not_verify() -> None:
    header = sign(SECRET, BODY, timestamp=T)
    assert not verify_signature(SECRET + "x", header, BODY, now=T)
    assert not verify_signature(SECRET, header, BODY.replace(b"120", b"121"), now=T)
    assert not verify_signature(SECRET, header, BODY + b" ", now=T)
    assert not verify_signature(SECRET, header, b"", now=T)


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(0, True), (TOLERANCE_S, True), (-TOLERANCE_S, True), (TOLERANCE_S + 1, False), (-(TOLERANCE_S + 1), False), (86_400, False)],
)
def test_the_timestamp_must_be_within_the_tolerance_of_now(offset: int, accepted: bool) -> None:
    """``offset``: how far the receiver's clock is ahead of the signature (negative: the signature is from the future)."""

    assert verify_signature(SECRET, sign(SECRET, BODY, timestamp=T), BODY, now=T + offset) is accepted


def test_the_tolerance_can_be_given() -> None:
    header = sign(SECRET, BODY, timestamp=T)
    assert not verify_signature(SECRET, header, BODY, now=T + 60, tolerance_s=59)
    assert verify_signature(SECRET, header, BODY, now=T + 60, tolerance_s=60)


GOOD = mac(SECRET, T, BODY)


def malformed(t: int, good: str) -> dict[str, str]:
    """Headers that must not verify, though ``good`` is the right v1 for ``t``, by what is wrong with them."""

    return {
        "empty": "",
        "commas": ",,,",
        "garbage": "garbage",
        "no-t": f"v1={good}",
        "empty-t": f"t=,v1={good}",
        "two-t": f"t={t},t={t},v1={good}",
        "t-letters": f"t=abc,v1={good}",
        "t-negative": f"t=-{t},v1={good}",
        "t-decimal": f"t={t}.0,v1={good}",
        "t-hex": f"t=0x{t:x},v1={good}",
        "t-superscript-digit": f"t=\u00b2,v1={good}",
        "t-5000-digits": f"t={'9' * 5000},v1={good}",
        "no-v1": f"t={t}",
        "empty-v1": f"t={t},v1=",
        "v0-only": f"t={t},v0={good}",
        "v1-uppercase": f"t={t},v1={good.upper()}",
        "v1-non-ascii": f"t={t},v1=\u00e9{good[1:]}",
        "v1-short-non-ascii": f"t={t},v1=\u00df",
    }


MALFORMED = malformed(T, GOOD)


@pytest.mark.parametrize("header", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_header_is_false_never_an_error(header: str) -> None:
    assert verify_signature(SECRET, header, BODY, now=T) is False


def test_any_of_several_v1_entries_may_match() -> None:
    other = mac("whsec_old", T, BODY)
    assert verify_signature(SECRET, f"t={T},v1={other},v1={GOOD}", BODY, now=T)
    assert verify_signature(SECRET, f"t={T},v1={GOOD},v1={other}", BODY, now=T)
    assert verify_signature(SECRET, f"t={T}, v1={GOOD}", BODY, now=T)  # a space after the comma
    assert not verify_signature(SECRET, f"t={T},v1={other},v1={'0' * 64}", BODY, now=T)


def test_a_retry_is_signed_afresh_over_the_same_body() -> None:
    first, retry = sign(SECRET, BODY, timestamp=T), sign(SECRET, BODY, timestamp=T + 7)
    assert first != retry
    assert verify_signature(SECRET, retry, BODY, now=T + 7)
    assert not verify_signature(SECRET, f"t={T + 7},v1={GOOD}", BODY, now=T + 7)  # an old v1 under a new t


# -- the README's receiver check ---------------------------------------------------------------------

SECTION = "Checking a delivery's signature"


def readme_check() -> Callable[..., bool]:
    """``signature_ok`` as the README defines it: the first python block after the section's heading, run."""

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    heading = re.search(rf"^#+ .*{re.escape(SECTION)}.*$", text, re.MULTILINE)
    assert heading is not None, f"README.md has no heading containing {SECTION!r}"
    block = re.search(r"^```python\n(.*?)^```", text[heading.end():], re.MULTILINE | re.DOTALL)
    assert block is not None, f"no ```python block under {SECTION!r}"
    namespace: dict[str, object] = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    check = namespace["signature_ok"]
    assert callable(check)
    parameters = inspect.signature(check).parameters
    assert list(parameters) == ["secret", "header", "body", "tolerance_s"]
    assert parameters["tolerance_s"].default == 300
    return check


def test_the_readme_check_accepts_what_sign_gives() -> None:
    signature_ok = readme_check()
    assert signature_ok(SECRET, sign(SECRET, BODY), BODY) is True
    assert signature_ok(SECRET, sign(SECRET, BODY), BODY, 300) is True


def test_the_readme_check_refuses_tampering_and_staleness() -> None:
    signature_ok = readme_check()
    header = sign(SECRET, BODY)
    assert signature_ok(SECRET, header, BODY.replace(b"120", b"121")) is False
    assert signature_ok("whsec_other", header, BODY) is False
    stale = sign(SECRET, BODY, timestamp=int(time.time()) - 3600)
    assert signature_ok(SECRET, stale, BODY) is False
    assert signature_ok(SECRET, stale, BODY, tolerance_s=7200) is True
    now = int(time.time())
    # every malformed header but repeated t's, of which the README's few lines read the last one (still signed)
    for name, header in malformed(now, mac(SECRET, now, BODY)).items():
        if name != "two-t":
            assert signature_ok(SECRET, header, BODY) is False, name


def test_the_readme_check_agrees_with_verify_signature() -> None:
    signature_ok = readme_check()
    now = int(time.time())
    headers = [sign(SECRET, BODY), sign(SECRET, BODY, timestamp=now - 299), sign(SECRET, BODY, timestamp=now - 400),
               sign("whsec_x", BODY), f"t={now},v1=00", f"t={now},v1={mac('whsec_x', now, BODY)},v1={mac(SECRET, now, BODY)}"]
    for header in headers:
        assert signature_ok(SECRET, header, BODY) is verify_signature(SECRET, header, BODY), header
