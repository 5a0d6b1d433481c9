"""Profiles: each field checked and put in one form; errors name the field, never the value."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.members.profile import Consent, apply, changes, new_profile

AT = datetime(2026, 5, 1, 10, 0, tzinfo=timezone.utc)
LATER = AT + timedelta(days=3)


def test_fields_are_put_in_one_form() -> None:
    profile = new_profile(
        {"name": "  Ann   Lee ", "email": "Ann.Lee@EXAMPLE.com", "phone": "+1 (415) 555-0100", "country": "us"},
        {"email_marketing": True, "profiling": False},
        AT,
    )
    assert (profile.name, profile.email, profile.phone, profile.country) == ("Ann Lee", "Ann.Lee@example.com", "+14155550100", "US")
    assert dict(profile.consents) == {
        "email_marketing": Consent(granted=True, at=AT),
        "profiling": Consent(granted=False, at=AT),
    }


def test_only_the_name_is_required() -> None:
    profile = new_profile({"name": "Ann"}, {}, AT)
    assert (profile.email, profile.phone, profile.country, dict(profile.consents)) == (None, None, None, {})


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"name": "Ann", "email": "ann.lee.example.com"}, "email: not an email address"),
        ({"name": "Ann", "phone": "0041 79 123 45 67"}, "phone: not an E.164 phone number"),
        ({"name": "Ann", "phone": "+0123456789"}, "phone: not an E.164 phone number"),
        ({"name": "Ann", "country": "XX"}, "country: not an ISO 3166-1 alpha-2 country code"),
        ({"name": "Ann", "country": "USA"}, "country: not an ISO 3166-1 alpha-2 country code"),
        ({"name": "   "}, "name: a name cannot be blank"),
        ({"name": "Ann\x00Lee"}, "name: a name has no control characters"),
        ({"name": "A" * 201}, "name: a name has at most 200 characters"),
        ({}, "name: Field required"),
    ],
)
def test_a_malformed_field_is_named_and_its_value_not_repeated(fields: dict[str, str], expected: str) -> None:
    with pytest.raises(InvalidCommand) as caught:
        new_profile(fields, {}, AT)
    assert caught.value.message.startswith("invalid profile: ") and expected in caught.value.message
    for value in fields.values():
        assert not value.strip() or value.strip() not in caught.value.message


def test_an_unknown_consent_is_refused_with_the_known_ones() -> None:
    with pytest.raises(InvalidCommand, match="no consent named 'newsletter' \\(consents: email_marketing, sms_marketing"):
        new_profile({"name": "Ann"}, {"newsletter": True}, AT)


def test_an_update_replaces_given_fields_clears_others_and_dates_changed_consents() -> None:
    before = new_profile(
        {"name": "Ann Lee", "email": "ann@example.com", "phone": "+14155550100", "country": "US"},
        {"email_marketing": True, "sms_marketing": True},
        AT,
    )
    update = changes({"email": "ann@example.org"}, {"email_marketing": True, "sms_marketing": False, "profiling": True}, ("phone",))
    after = apply(before, update, LATER)
    assert (after.name, after.email, after.phone, after.country) == ("Ann Lee", "ann@example.org", None, "US")
    assert after.consents["email_marketing"] == Consent(granted=True, at=AT)  # unchanged: keeps when it was given
    assert after.consents["sms_marketing"] == Consent(granted=False, at=LATER)
    assert after.consents["profiling"] == Consent(granted=True, at=LATER)


def test_changes_refuse_a_field_given_and_cleared_or_not_clearable() -> None:
    with pytest.raises(InvalidCommand, match="phone is both given and cleared"):
        changes({"phone": "+14155550100"}, {}, ("phone",))
    with pytest.raises(InvalidCommand, match="name cannot be cleared"):
        changes({}, {}, ("name",))
    assert changes({}, {}, ()).empty and not changes({}, {"profiling": True}).empty
