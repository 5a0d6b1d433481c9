"""Lookup digests: one digest per normal form, so a scan recognises a member's values however they are written."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from loyalty_accounts.members.lookup import LookupDigests, email_form, name_tokens, phone_form
from loyalty_accounts.members.profile import Profile

KEY = b"k" * 32


def test_normal_forms() -> None:
    assert email_form("  Ann.Lee@Example.COM ") == "ann.lee@example.com"
    assert phone_form("+1 (415) 555-0100") == "+14155550100"
    assert phone_form("+44.20.7946.0958") == "+442079460958"
    assert phone_form("415 555 0100") is None  # no country code: not E.164
    assert name_tokens("  Élodie O'Brien-Smith ") == ("elodie", "obrien", "smith")
    assert name_tokens("J. R. R. Tolkien") == ("tolkien",)  # initials are left out
    assert name_tokens("Åsa Nilsson-Øberg") == ("asa", "nilsson", "øberg")  # ø has no decomposition


def test_a_digest_is_hmac_sha256_of_kind_and_normal_form() -> None:
    digests = LookupDigests(KEY)
    expected = hmac.new(KEY, b"email\x00ann.lee@example.com", hashlib.sha256).digest()
    assert digests.email("Ann.Lee@EXAMPLE.com") == expected
    assert digests.digest("name_token", "lee") == hmac.new(KEY, b"name_token\x00lee", hashlib.sha256).digest()


def test_variants_of_one_value_share_a_digest_and_kinds_or_keys_do_not() -> None:
    digests = LookupDigests(KEY)
    assert digests.phone("+1 415 555 0100") == digests.phone("+1-415-555-0100")
    assert digests.name("ELODIE  o’brien") == digests.name("Élodie O'Brien")
    assert digests.digest("name", "lee") != digests.digest("name_token", "lee")
    assert LookupDigests(b"x" * 32).email("a@example.com") != digests.email("a@example.com")


def test_a_profile_gives_a_digest_of_each_value_and_each_name_token() -> None:
    digests = LookupDigests(KEY)
    profile = Profile(name="Ann Lee", email="ann@example.com", phone="+14155550100", country="US")
    found = digests.of_profile(profile)
    assert [d.kind for d in found] == ["email", "phone", "name", "name_token", "name_token"]
    assert {d.digest for d in found} == {
        digests.email("ann@example.com"),
        digests.phone("+14155550100"),
        digests.name("ann lee"),
        digests.digest("name_token", "ann"),
        digests.digest("name_token", "lee"),
    }
    assert all(len(d.digest) == 32 for d in found)


@pytest.mark.parametrize("text", ["", "  ", "J."])
def test_a_name_without_tokens_has_no_name_digest(text: str) -> None:
    assert LookupDigests(KEY).name(text) is None and LookupDigests(KEY).tokens(text) == ()
