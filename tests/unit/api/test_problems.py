"""The error tree as HTTP answers: one status and problem type per error, most specific first, and the
problem document's shape (RFC 9457)."""

from __future__ import annotations

import importlib
import json
import pkgutil

import pytest

import loyalty_accounts
from loyalty_accounts import errors
from loyalty_accounts.api.keys import KeyRefused, NotAllowed
from loyalty_accounts.api.problems import UNAVAILABLE, PROBLEM_BASE, IdempotencyConflict, problem, problem_of, status_of
from loyalty_accounts.events.delivery import WebhookUnreachable
from loyalty_accounts.events.derive import EventStreamError
from loyalty_accounts.rules import EngagementLimitReached
from loyalty_accounts.rules.model import RuleProblem
from loyalty_accounts.vocabulary.frozen import InvalidValue

EXPECTED: dict[type[errors.LoyaltyError], tuple[int, str]] = {
    errors.InvalidCommand: (400, "invalid-request"),
    errors.ChartError: (400, "invalid-request"),
    errors.RegistryKeyMismatch: (400, "invalid-request"),
    InvalidValue: (400, "invalid-request"),
    RuleProblem: (400, "invalid-request"),
    KeyRefused: (401, "unauthenticated"),
    NotAllowed: (403, "forbidden"),
    errors.UnknownEntity: (404, "not-found"),
    errors.DuplicateOperation: (409, "duplicate-operation"),
    IdempotencyConflict: (409, "idempotency-conflict"),
    errors.InsufficientPoints: (422, "insufficient-points"),
    errors.OperationRefused: (422, "operation-refused"),
    errors.PeriodClosed: (422, "period-closed"),
    errors.OutOfStock: (422, "out-of-stock"),
    EngagementLimitReached: (422, "engagement-limit-reached"),
    errors.LedgerRejected: (502, "ledger-rejected"),
    errors.MemberDataUnreadable: (500, "member-data-unreadable"),
    errors.LedgerUnavailable: (503, "ledger-unavailable"),
    errors.RegistryUnavailable: (503, "registry-unavailable"),
    errors.OutcomeUnknown: (504, "outcome-unknown"),
    # Errors no request can meet (the local stack's, the event deliverer's), and the base: internal.
    errors.LoyaltyError: (500, "internal"),
    errors.LocalServerError: (500, "internal"),
    errors.LedgerServerNotFound: (500, "internal"),
    errors.LedgerBuildRefused: (500, "internal"),
    EventStreamError: (500, "internal"),
    WebhookUnreachable: (500, "internal"),
}
"""Every error class of the package, and its HTTP status and problem type name (README, "Errors")."""


def sample(kind: type[errors.LoyaltyError]) -> errors.LoyaltyError:
    """An error of ``kind`` saying "what happened" (a rules file's problem also names where)."""

    return kind(("tiers", 0), "what happened") if kind is RuleProblem else kind("what happened")  # type: ignore[call-arg]


def _every_error_class() -> set[type[errors.LoyaltyError]]:
    for module in pkgutil.walk_packages(loyalty_accounts.__path__, "loyalty_accounts."):
        importlib.import_module(module.name)
    found: set[type[errors.LoyaltyError]] = set()
    todo = [errors.LoyaltyError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("loyalty_accounts.") and cls not in found:
            found.add(cls)
            todo.extend(cls.__subclasses__())
    return found


def test_the_table_names_every_error_class_of_the_package() -> None:
    assert _every_error_class() == set(EXPECTED)


@pytest.mark.parametrize("kind", list(EXPECTED), ids=lambda k: k.__name__)
def test_status_of_every_error(kind: type[errors.LoyaltyError]) -> None:
    assert status_of(sample(kind)) == EXPECTED[kind]


@pytest.mark.parametrize("kind", [k for k in EXPECTED if k.__module__ == "loyalty_accounts.errors" and not issubclass(k, errors.LocalServerError)],
                         ids=lambda k: k.__name__)
def test_statuses_keep_the_meanings_of_the_cli_exit_codes(kind: type[errors.LoyaltyError]) -> None:
    status, _ = status_of(sample(kind))
    expected = {2: {400}, 3: {503}, 4: {504}}.get(kind.exit_code, {404, 409, 422, 500, 502})
    assert status in expected, (kind.exit_code, status)


def test_a_subclass_gets_its_own_status_not_its_parents() -> None:
    # PeriodClosed is an OperationRefused, RegistryKeyMismatch an InvalidCommand, InvalidValue also a ValueError.
    assert issubclass(errors.PeriodClosed, errors.OperationRefused)
    assert status_of(errors.PeriodClosed("closed")) == (422, "period-closed")
    assert status_of(errors.RegistryKeyMismatch("wrong key")) == (400, "invalid-request")


def test_an_error_outside_the_tree_of_the_package_is_internal() -> None:
    class Surprise(errors.LoyaltyError):
        pass

    assert status_of(Surprise("?")) == (500, "internal")


def test_a_subclass_made_elsewhere_keeps_its_parents_status() -> None:
    class TooLate(errors.OperationRefused):
        pass

    assert status_of(TooLate("late")) == (422, "operation-refused")


# -- problem documents --------------------------------------------------------------------


def test_problem_of_gives_a_problem_document_with_the_ledgers_code() -> None:
    error = errors.InsufficientPoints("customer c42 has 10 points, 25 needed", code="INSUFFICIENT_FUND")
    status, body = problem_of(error, instance="/v1/programmes/shop/redemptions")
    assert status == 422
    assert json.loads(body) == {
        "type": PROBLEM_BASE + "insufficient-points",
        "title": "InsufficientPoints",
        "status": 422,
        "detail": "customer c42 has 10 points, 25 needed",
        "instance": "/v1/programmes/shop/redemptions",
        "code": "INSUFFICIENT_FUND",
    }


def test_a_problem_without_instance_or_code_leaves_them_out() -> None:
    status, body = problem_of(errors.UnknownEntity("no hold h-9"))
    assert (status, json.loads(body)) == (
        404, {"type": PROBLEM_BASE + "not-found", "title": "UnknownEntity", "status": 404, "detail": "no hold h-9"}
    )


@pytest.mark.parametrize("kind", list(EXPECTED), ids=lambda k: k.__name__)
def test_every_problem_document_says_its_own_status(kind: type[errors.LoyaltyError]) -> None:
    error = sample(kind)
    status, body = problem_of(error, instance="/v1/x")
    doc = json.loads(body)
    assert doc["status"] == status == EXPECTED[kind][0]
    assert doc["type"] == PROBLEM_BASE + EXPECTED[kind][1]
    assert doc["title"] == ("InvalidCommand" if issubclass(kind, errors.InvalidCommand) else kind.__name__)
    if status == 503:  # where the servers are is the operator's business, not a caller's
        assert doc["detail"] == UNAVAILABLE[EXPECTED[kind][1]] and "what happened" not in doc["detail"]
    else:
        assert doc["detail"] == error.message
        assert "what happened" in doc["detail"]


@pytest.mark.parametrize(
    ("message", "hidden"),
    [("unknown partner 'jane.doe@example.com'", "jane.doe@example.com"), ("as_of: '+1 415 555 0100' is not ISO 8601", "555 0100")],
)
def test_a_detail_quoting_personal_data_is_scrubbed(message: str, hidden: str) -> None:
    status, body = problem_of(errors.InvalidCommand(message))
    doc = json.loads(body)
    assert status == 400 and hidden not in doc["detail"] and "(withheld)" in doc["detail"]


def test_problem_keeps_extra_members_and_drops_empty_ones() -> None:
    doc = problem(409, "idempotency-conflict", "IdempotencyConflict", "in use", instance="/v1/a", code=None, retry_after=5)
    assert doc == {
        "type": PROBLEM_BASE + "idempotency-conflict", "title": "IdempotencyConflict", "status": 409, "detail": "in use",
        "instance": "/v1/a", "retry_after": 5,
    }


def test_a_problem_document_is_utf8_json() -> None:
    _, body = problem_of(errors.InvalidCommand("code 'café' is not valid"))
    assert json.loads(body.decode("utf-8"))["detail"] == "code 'café' is not valid"
