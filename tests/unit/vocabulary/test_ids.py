from __future__ import annotations

import pytest

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.vocabulary.ids import business_key, code, customer_id, hold_id


@pytest.mark.parametrize("bad", ["", " ", "c 1", "a:b", "a.b", "x" * 65, None, 42])
def test_a_customer_id_is_refused_when_empty_or_malformed(bad: object) -> None:
    with pytest.raises(InvalidCommand, match="customer id"):
        customer_id(bad)


def test_the_message_says_empty_for_an_empty_id() -> None:
    with pytest.raises(InvalidCommand, match="customer id empty is not valid"):
        customer_id("")


def test_good_ids_pass_unchanged() -> None:
    assert customer_id("c-42_A") == "c-42_A"
    assert hold_id("h1") == "h1"
    assert business_key("order.2026-1") == "order.2026-1"
    assert code("app_login") == "app_login"


@pytest.mark.parametrize(("check", "bad"), [(hold_id, "h.1"), (business_key, "a b"), (code, "App")])
def test_each_kind_has_its_own_pattern(check, bad) -> None:
    with pytest.raises(InvalidCommand):
        check(bad)


@pytest.mark.parametrize(
    ("bad", "hidden"),
    [
        ("Zoe Martin", "a value that looks like a name, not repeated"),
        ("zoe@example", "a value that looks like an email, not repeated"),
        ("4155550100", "a value that looks like a phone, not repeated"),
        ("zoe4155550100x", "a value that looks like a phone, not repeated"),
    ],
)
def test_a_malformed_id_that_may_be_personal_data_is_not_repeated(bad: str, hidden: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        hold_id(bad + ".")
    assert refused.value.message == f"hold id ({hidden}) is not valid: use 1-100 letters, digits, '_' or '-'"


@pytest.mark.parametrize("bad", ["h.1", "order:123", " c1", "-5!", "o.1234", "2026-10-06.", "1234567.89!"])
def test_a_malformed_id_that_cannot_be_personal_data_is_quoted(bad: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        hold_id(bad)
    assert refused.value.message.startswith(f"hold id {bad!r} is not valid")


def test_a_long_malformed_id_is_cut_in_its_message_and_its_length_given() -> None:
    with pytest.raises(InvalidCommand) as refused:
        hold_id("h" * 300 + "!")
    message = str(refused.value)
    assert message == "hold id " + repr("h" * 40) + "… (301 characters) is not valid: use 1-100 letters, digits, '_' or '-'"
    assert "\n" not in message and len(message) < 160


def test_a_malformed_id_of_forty_characters_is_repeated_whole() -> None:
    with pytest.raises(InvalidCommand, match=r"'a\.{39}' is not valid"):
        customer_id("a" + "." * 39)
