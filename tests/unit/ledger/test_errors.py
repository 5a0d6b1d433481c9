"""The error table: Formance error codes and foreign bodies become the project's errors.

Response shapes follow Formance Ledger v2.4.12 (see ``ledgersupport``).
"""

from __future__ import annotations

import httpx
import pytest
import respx
from ledgersupport import TX_URL, cursor, error, make_client, make_plan

from loyalty_accounts.errors import (
    DuplicateOperation,
    InsufficientPoints,
    LedgerRejected,
    LoyaltyError,
    UnknownEntity,
)

# The SDK reads every field of its list-transactions request, including the deprecated "order".
pytestmark = pytest.mark.filterwarnings("ignore:.*DEPRECATED.*:DeprecationWarning")


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "INSUFFICIENT_FUND", InsufficientPoints),
        (404, "NOT_FOUND", UnknownEntity),
        (404, "LEDGER_NOT_FOUND", UnknownEntity),
        (400, "ALREADY_REVERT", DuplicateOperation),
        (400, "VALIDATION", LedgerRejected),
        (400, "COMPILATION_FAILED", LedgerRejected),
        (400, "INTERPRETER_PARSE", LedgerRejected),
        (400, "INTERPRETER_RUNTIME", LedgerRejected),
        (400, "NO_POSTINGS", LedgerRejected),
        (400, "METADATA_OVERRIDE", LedgerRejected),
        (400, "SCHEMA_NOT_SPECIFIED", LedgerRejected),
        (400, "OUTDATED_SCHEMA", LedgerRejected),
        (413, "BULK_SIZE_EXCEEDED", LedgerRejected),
        (400, "SOMETHING_NEW", LedgerRejected),  # unknown to the SDK's enum
    ],
)
def test_error_codes_map_to_project_errors(
    router: respx.Router, status: int, code: str, expected: type[LoyaltyError]
) -> None:
    router.post(TX_URL).mock(return_value=error(status, code, f"server says {code.lower()}"))
    router.get(TX_URL).mock(return_value=cursor([]))  # the reference lookup after INSUFFICIENT_FUND
    with make_client(router) as client, pytest.raises(LoyaltyError) as caught:
        client.post(make_plan())
    assert type(caught.value) is expected
    assert caught.value.code == code
    assert f"server says {code.lower()}" in str(caught.value)


def test_non_json_error_body_gives_a_clear_error(router: respx.Router) -> None:
    # a refusal with a foreign body (a proxy's 400): named with the request and the body; a bare 404 is
    # "not a Formance ledger API" instead (test_transport)
    router.post(TX_URL).mock(
        return_value=httpx.Response(400, text="400 bad request\n", headers={"Content-Type": "application/json"})
    )
    with make_client(router) as client, pytest.raises(LedgerRejected) as caught:
        client.post(make_plan())
    assert caught.value.code == "HTTP_400"
    assert "400 bad request" in str(caught.value)
    assert "/v2/loyalty/transactions" in str(caught.value)
