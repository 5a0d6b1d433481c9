"""Lookup digests: one digest per normal form, so a scan recognises a member's values however they are written."""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from loyalty_accounts.members.lookup import LookupDigests, email_form, name_tokens, national_phone_forms, phone_form
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


def test_a_national_form_gives_the_e164_numbers_it_may_be() -> None:
    assert "+14155550100" in national_phone_forms("4155550100")
    assert "+14155550100" in national_phone_forms("14155550100")  # the North American trunk prefix 1
    assert "+33612345678" in national_phone_forms("0612345678")  # the French trunk prefix 0 dropped
    assert "+33612345678" in national_phone_forms("612345678")
    assert "+390612345678" in national_phone_forms("0612345678")  # Italy keeps its leading 0
    assert all(form.startswith("+") and form.endswith("4155550100") for form in national_phone_forms("4155550100"))


def test_every_countrys_example_numbers_national_forms_give_it_back() -> None:
    # phonenumbers' own example numbers: typed as their country writes them at home, or without the trunk prefix
    missed, tried = [], 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            tried += 1
            e164 = phonenumbers.format_number(example, PhoneNumberFormat.E164)
            national = "".join(c for c in phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL) if c.isdigit())
            for typed in (national, phonenumbers.national_significant_number(example)):
                if e164 not in national_phone_forms(typed):
                    missed.append((region, typed, e164))
    assert tried > 400 and missed == []
