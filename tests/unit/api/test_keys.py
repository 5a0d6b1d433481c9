"""API keys on an in-memory store: scopes, what a key allows, its state, making keys and checking them.

The SQL store and PostgreSQL are exercised by the integration suite's API tests.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timedelta, timezone

import pytest
from support.fake_api import FakeKeyStore

from loyalty_accounts.api.keys import FIXED_SCOPES, ApiKey, ApiKeys, KeyRefused, scope
from loyalty_accounts.errors import InvalidCommand, UnknownEntity

NOW = datetime(2026, 5, 1, 10, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(days=90)
PARTNERS = ("skyway", "railco")


def api_key(*scopes: str, expires_at: datetime = LATER, revoked_at: datetime | None = None, member: str | None = None) -> ApiKey:
    return ApiKey(
        key_id="0123456789abcdef", programme="shop", scopes=scopes, member=member, label="till-1",
        created_at=NOW, expires_at=expires_at, revoked_at=revoked_at,
    )


def make(keys: ApiKeys, *scopes: str, programme: str = "shop", expires_at: datetime = LATER, member: str | None = None) -> tuple[ApiKey, str]:
    return keys.create(programme=programme, scopes=scopes, label="till-1", expires_at=expires_at, now=NOW, member=member, partners=PARTNERS)


@pytest.fixture
def store() -> FakeKeyStore:
    return FakeKeyStore()


@pytest.fixture
def keys(store: FakeKeyStore) -> ApiKeys:
    return ApiKeys(store)  # type: ignore[arg-type]


# -- scopes -------------------------------------------------------------------


@pytest.mark.parametrize("text", FIXED_SCOPES)
def test_every_fixed_scope_is_a_scope(text: str) -> None:
    assert scope(text) == text
    assert scope(f"  {text}\t") == text


def test_a_partner_scope_names_a_partner_of_the_list() -> None:
    assert scope("partner:skyway", partners=PARTNERS) == "partner:skyway"
    assert scope(" partner:railco ", partners=PARTNERS) == "partner:railco"


def test_a_partner_scope_outside_the_list_is_refused_naming_the_partners() -> None:
    with pytest.raises(InvalidCommand) as caught:
        scope("partner:seaways", partners=PARTNERS)
    assert "'seaways'" in caught.value.message
    assert "skyway, railco" in caught.value.message


def test_a_partner_scope_when_the_chart_has_no_partner_says_so() -> None:
    with pytest.raises(InvalidCommand, match=r"partners: none"):
        scope("partner:skyway", partners=())


def test_without_a_partner_list_any_well_formed_partner_scope_passes() -> None:
    assert scope("partner:seaways") == "partner:seaways"


@pytest.mark.parametrize(
    "text",
    ["", "Admin", "admin:all", "pos", "pos:*", "partner:", "partner:Skyway", "partner:sky way", "partner:-sky",
     "partner:" + "a" * 33, "partner:skyway:extra", "member:write"],
)
def test_anything_else_is_not_a_scope(text: str) -> None:
    with pytest.raises(InvalidCommand) as caught:
        scope(text, partners=PARTNERS)
    for fixed in FIXED_SCOPES:
        assert fixed in caught.value.message  # the message lists the scopes there are


# -- a key: what it allows, its state ----------------------------------------------


@pytest.mark.parametrize("wanted", [*FIXED_SCOPES, "partner:skyway"])
def test_admin_allows_everything(wanted: str) -> None:
    assert api_key("admin").allows(wanted)


def test_a_key_allows_exactly_its_own_scopes() -> None:
    key = api_key("pos:earn", "partner:skyway")
    assert key.allows("pos:earn")
    assert key.allows("partner:skyway")
    for other in ("checkout:spend", "finance:read", "member:read", "admin", "partner:railco", "partner:sky", "partner:*"):
        assert not key.allows(other), other


def test_a_key_is_active_until_the_instant_it_expires() -> None:
    key = api_key("pos:earn", expires_at=LATER)
    assert key.state(NOW) == "active"
    assert key.state(LATER - timedelta(microseconds=1)) == "active"
    assert key.state(LATER) == "expired"
    assert key.state(LATER + timedelta(days=1)) == "expired"


def test_revoked_wins_over_active_and_expired() -> None:
    key = api_key("pos:earn", revoked_at=NOW + timedelta(hours=1))
    assert key.state(NOW) == "revoked"
    assert key.state(LATER + timedelta(days=1)) == "revoked"


# -- making a key ---------------------------------------------------------------------


def test_a_new_key_is_shown_once_and_only_its_digest_is_kept(keys: ApiKeys, store: FakeKeyStore) -> None:
    key, text = make(keys, "pos:earn", "checkout:spend")
    match = re.fullmatch(r"lk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})", text)
    assert match is not None, text
    key_id, secret = match.groups()
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32
    assert key.key_id == key_id
    assert (key.programme, key.scopes, key.label, key.member) == ("shop", ("pos:earn", "checkout:spend"), "till-1", None)
    assert (key.created_at, key.expires_at, key.revoked_at) == (NOW, LATER, None)
    stored, digest = store.rows[key_id]
    assert stored == key
    assert digest == hashlib.sha256(secret.encode("ascii")).digest()
    assert secret not in repr(store.rows)


def test_two_keys_share_neither_id_nor_secret(keys: ApiKeys) -> None:
    _, first = make(keys, "pos:earn")
    _, second = make(keys, "pos:earn")
    assert first.split("_")[1] != second.split("_")[1]
    assert first.split("_", 2)[2] != second.split("_", 2)[2]


def test_scopes_are_kept_once_each_in_the_order_given(keys: ApiKeys) -> None:
    key, _ = make(keys, "finance:read", " pos:earn", "finance:read", "partner:skyway", "pos:earn")
    assert key.scopes == ("finance:read", "pos:earn", "partner:skyway")


def test_a_member_read_key_names_its_member(keys: ApiKeys) -> None:
    key, _ = make(keys, "member:read", member="c42")
    assert key.member == "c42"


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"programme": "shop floor"}, "--programme"),
        ({"programme": ""}, "--programme"),
        ({"programme": "p" * 64}, "--programme"),
        ({"scopes": ()}, "at least one"),
        ({"scopes": ("pos:earn", "root")}, "'root'"),
        ({"scopes": ("partner:seaways",)}, "seaways"),
        ({"label": "Jane Doe"}, "--label"),
        ({"label": ""}, "--label"),
        ({"label": "-till"}, "--label"),
        ({"label": "t" * 65}, "--label"),
        ({"expires_at": NOW}, "--expires"),
        ({"expires_at": NOW - timedelta(days=1)}, "--expires"),
        ({"scopes": ("member:read",)}, "member:read"),
        ({"scopes": ("pos:earn",), "member": "c42"}, "member:read"),
    ],
)
def test_create_refuses_bad_input_and_stores_nothing(keys: ApiKeys, store: FakeKeyStore, fields: dict, says: str) -> None:
    given = {"programme": "shop", "scopes": ("pos:earn",), "label": "till-1", "expires_at": LATER, "member": None} | fields
    with pytest.raises(InvalidCommand) as caught:
        keys.create(now=NOW, partners=PARTNERS, **given)
    assert says in caught.value.message
    assert store.rows == {}


def test_the_longest_programme_name_and_label_are_accepted(keys: ApiKeys) -> None:
    key, _ = keys.create(programme="p" * 63, scopes=("admin",), label="t" * 64, expires_at=LATER, now=NOW)
    assert (key.programme, key.label) == ("p" * 63, "t" * 64)


# -- listing and revoking ---------------------------------------------------------------


def test_keys_lists_one_programme_or_all(keys: ApiKeys) -> None:
    shop, _ = make(keys, "pos:earn")
    air, _ = make(keys, "finance:read", programme="airline")
    assert keys.keys("shop") == [shop]
    assert keys.keys("airline") == [air]
    assert {k.key_id for k in keys.keys()} == {shop.key_id, air.key_id}


def test_revoke_marks_the_key_at_that_instant_once(keys: ApiKeys) -> None:
    key, _ = make(keys, "pos:earn")
    revoked = keys.revoke(key.key_id, NOW + timedelta(hours=1), programme="shop")
    assert revoked.revoked_at == NOW + timedelta(hours=1)
    assert revoked.state(NOW + timedelta(hours=1)) == "revoked"
    again = keys.revoke(key.key_id, NOW + timedelta(hours=2), programme="shop")
    assert again.revoked_at == NOW + timedelta(hours=1)


def test_revoking_an_unknown_key_is_unknown_entity(keys: ApiKeys) -> None:
    with pytest.raises(UnknownEntity, match="0000000000000000"):
        keys.revoke("0000000000000000", NOW, programme="shop")


def test_another_programmes_key_is_not_revoked_it_is_unknown_here(keys: ApiKeys) -> None:
    key, text = make(keys, "admin", programme="airline")
    with pytest.raises(UnknownEntity, match="in programme shop"):
        keys.revoke(key.key_id, NOW, programme="shop")
    assert keys.authenticate(text, "airline", NOW).revoked_at is None


# -- authenticating ---------------------------------------------------------------------


def refused(keys: ApiKeys, text: str | None, programme: str = "shop", now: datetime = NOW) -> str:
    with pytest.raises(KeyRefused) as caught:
        keys.authenticate(text, programme, now)
    return caught.value.message


def test_a_valid_key_authenticates_as_itself(keys: ApiKeys) -> None:
    key, text = make(keys, "pos:earn")
    assert keys.authenticate(text, "shop", NOW) == key
    assert keys.authenticate(f"  {text} ", "shop", LATER - timedelta(seconds=1)) == key


@pytest.mark.parametrize("text", [None, ""])
def test_no_key_is_refused(keys: ApiKeys, text: str | None) -> None:
    assert "no API key" in refused(keys, text)


def test_a_malformed_key_is_refused_without_a_lookup(keys: ApiKeys, store: FakeKeyStore) -> None:
    _, text = make(keys, "pos:earn")
    key_id, secret = text.split("_", 2)[1:]
    before = store.transactions
    for bad in (
        f"Bearer {text}", text[:-1], text + "A", text.replace("lk_", "lk-", 1), f"lk_{key_id.upper()}_{secret}",
        f"lk_{key_id}_{secret[:-1]}+", f"ak_{key_id}_{secret}", "lk_", secret,
    ):
        assert refused(keys, bad) == "malformed API key", bad
    assert store.transactions == before


def test_an_unknown_key_and_a_wrong_secret_are_refused_alike(keys: ApiKeys) -> None:
    _, text = make(keys, "pos:earn")
    key_id, secret = text.split("_", 2)[1:]
    other_secret = ("B" if secret[0] == "A" else "A") + secret[1:]
    unknown = refused(keys, f"lk_{'f' * 16 if key_id != 'f' * 16 else 'e' * 16}_{secret}")
    wrong = refused(keys, f"lk_{key_id}_{other_secret}")
    assert unknown == wrong == "API key not valid"


def test_another_keys_secret_does_not_open_this_key(keys: ApiKeys) -> None:
    first, _ = make(keys, "admin")
    _, second = make(keys, "pos:earn")
    assert refused(keys, f"lk_{first.key_id}_{second.split('_', 2)[2]}") == "API key not valid"


def test_a_revoked_key_is_refused_from_the_next_request(keys: ApiKeys) -> None:
    key, text = make(keys, "pos:earn")
    keys.revoke(key.key_id, NOW, programme="shop")
    assert refused(keys, text) == "API key not valid"  # read alike with an unknown key: nothing learnt


def test_an_expired_key_is_refused_from_its_expiry(keys: ApiKeys) -> None:
    _, text = make(keys, "pos:earn", expires_at=NOW + timedelta(days=1))
    assert keys.authenticate(text, "shop", NOW + timedelta(days=1) - timedelta(microseconds=1)).scopes == ("pos:earn",)
    assert refused(keys, text, now=NOW + timedelta(days=1)) == "API key not valid"


def test_a_key_of_another_programme_is_refused(keys: ApiKeys) -> None:
    _, text = make(keys, "admin", programme="airline")
    assert refused(keys, text, programme="shop") == "API key not valid"
    assert keys.authenticate(text, "airline", NOW).programme == "airline"


@pytest.mark.parametrize("member", ["ann.lee@example.com", "", "c 42", "c42:points"])
def test_a_member_read_key_names_a_customer_id(keys: ApiKeys, store: FakeKeyStore, member: str) -> None:
    with pytest.raises(InvalidCommand) as caught:
        make(keys, "member:read", member=member)
    assert "customer id" in caught.value.message
    assert "example.com" not in caught.value.message
    assert store.rows == {}
