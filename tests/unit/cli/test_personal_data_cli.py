"""An email or a phone number smuggled through every free-text field of every operation is refused (exit 2),
the message never repeats it, and nothing is posted; with the member registry wired in, a member's name is too."""

from __future__ import annotations

import pytest
from support.fake_ledger import FakeLedger
from support.fake_registry import FakeRegistryStore
from typer.testing import CliRunner

from loyalty_accounts.app import App
from loyalty_accounts.cli import app
from loyalty_accounts.members import MemberRegistry, RegistryKey, RegistryScreen

runner = CliRunner()
AT = "2025-03-01T00:00:00Z"
EMAIL = "zoe.martin@example.com"
PHONE = "415-555-0100"

# Each operation with valid arguments (run before the others, they post), and its free-text options.
COMMANDS: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "earn": (["earn", "-c", "c1", "--order", "o-2", "--amount", "10", "--ordered-at", AT], ("-c", "--order")),
    "hold": (["hold", "-c", "c1", "--hold", "h-2", "-p", "5", "--at", AT], ("-c", "--hold")),
    "capture": (["capture", "-c", "c1", "--hold", "h-1", "-p", "5", "--at", "2025-02-02T00:10:00Z"], ("-c", "--hold")),
    "void": (["void", "-c", "c1", "--hold", "h-1"], ("-c", "--hold")),
    "redeem": (["redeem", "-c", "c1", "--redemption", "r-1", "-p", "5", "--reward", "mug", "--at", AT], ("-c", "--redemption", "--reward")),
    "transfer": (["transfer", "--from", "c1", "--to", "c2", "--transfer", "t-1", "-p", "5", "--at", AT], ("--from", "--to", "--transfer")),
    "exchange": (["exchange", "-c", "c1", "--partner", "skyway", "--exchange", "x-1", "--partner-points", "2", "--direction", "out", "--at", AT],
                 ("-c", "--partner", "--exchange")),
    "convert": (["convert", "-c", "c1", "--conversion", "cv-1", "-p", "100", "--at", AT], ("-c", "--conversion")),
    "refund": (["refund", "-c", "c1", "--order", "o-1", "--refund", "rf-1", "--amount", "1", "--at", AT], ("-c", "--order", "--refund")),
    "engage": (["engage", "-c", "c1", "--event", "sign_up", "--key", "k-1", "--at", AT], ("-c", "--event", "--key")),
    "adjust": (["adjust", "-c", "c1", "--adjustment", "a-1", "-p", "5", "--reason", "goodwill", "--at", AT], ("-c", "--adjustment", "--reason")),
}
SMUGGLED = [(name, option) for name, (_, options) in COMMANDS.items() for option in options]


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


@pytest.fixture
def books(ledger: FakeLedger) -> FakeLedger:
    """c1 with 1000 spendable points from order o-1 and a hold h-1 of 10."""

    for args in (
        ["earn", "-c", "c1", "--order", "o-1", "--amount", "1000", "--ordered-at", "2025-01-01T00:00:00Z"],
        ["release", "--as-of", "2025-02-01T00:00:00Z"],
        ["hold", "-c", "c1", "--hold", "h-1", "-p", "10", "--at", "2025-02-02T00:00:00Z"],
    ):
        assert invoke(*args).exit_code == 0
    return ledger


def _with(args: list[str], option: str, value: str) -> list[str]:
    changed = list(args)
    changed[changed.index(option) + 1] = value
    return changed


def _refused(books: FakeLedger, args: list[str], hidden: str) -> str:
    """What ``args`` print when they are refused as bad input (exit 2) with nothing posted and ``hidden`` unsaid."""

    before = len(list(books.transactions()))
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert hidden not in result.output, result.output
    assert len(list(books.transactions())) == before
    return result.output


@pytest.mark.parametrize("value", [EMAIL, PHONE, "+14155550100"])
@pytest.mark.parametrize(("command", "option"), SMUGGLED)
def test_personal_data_in_any_free_text_field_is_refused_unrepeated_and_nothing_posted(
    books: FakeLedger, command: str, option: str, value: str
) -> None:
    said = _refused(books, _with(COMMANDS[command][0], option, value), value)
    assert "555" not in said and ("looks like" in said or "not valid" in said or "refused" in said), said


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_same_commands_without_personal_data_post(books: FakeLedger, command: str) -> None:
    # the refusals above are for the value only: each command as given posts
    args, _ = COMMANDS[command]
    before = len(list(books.transactions()))
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert len(list(books.transactions())) > before


@pytest.fixture
def wired(monkeypatch: pytest.MonkeyPatch) -> MemberRegistry:
    """A member registry the CLI's commands are screened against, holding Zoë Martin (+1 415 555 0199)."""

    registry = MemberRegistry(FakeRegistryStore(), RegistryKey(bytes(range(32))))
    registry.add("Zoë Martin", email=EMAIL, phone="+1 415 555 0199")
    monkeypatch.setattr(App, "personal_data", lambda self, preload=False: RegistryScreen(lambda: registry, preload=preload))
    return registry


def test_with_the_registry_wired_a_customer_id_spelling_a_members_name_is_refused(books: FakeLedger, wired: MemberRegistry) -> None:
    member = wired.add("Ann Lee").member_id
    before = len(list(books.transactions()))
    refused = invoke("adjust", "-c", "zoe_martin", "--adjustment", "a-9", "-p", "5", "--reason", "goodwill")
    assert refused.exit_code == 2 and "customer looks like a member name" in refused.output, refused.output
    assert "zoe" not in refused.output.lower()
    assert len(list(books.transactions())) == before
    assert invoke("adjust", "-c", member, "--adjustment", "a-9", "-p", "5", "--reason", "goodwill").exit_code == 0
    assert invoke("adjust", "-c", "martin", "--adjustment", "a-10", "-p", "5", "--reason", "goodwill").exit_code == 0


@pytest.mark.parametrize(
    ("option", "value", "kind"),
    [
        ("-c", "Zoe Martin", "name"),
        ("-c", "4155550100.", "phone"),
        ("-c", "zoe@example", "email"),
        ("--reason", "Zoe Martin", "name"),
        ("--adjustment", "zoe martin", "name"),
    ],
)
def test_a_malformed_field_that_may_be_personal_data_is_not_echoed_by_the_validation_error(
    books: FakeLedger, option: str, value: str, kind: str
) -> None:
    said = _refused(books, _with(COMMANDS["adjust"][0], option, value), value)
    assert value.split()[0] not in said.replace("--", ""), said
    assert f"(got a value that looks like a{'n' if kind == 'email' else ''} {kind}, not repeated)" in said, said


def test_a_harmless_malformed_value_is_still_echoed(books: FakeLedger) -> None:
    args, _ = COMMANDS["adjust"]
    result = invoke(*_with(args, "-c", "c.1"))
    assert result.exit_code == 2 and "(got 'c.1')" in result.stderr, result.stderr
    negative = invoke(*_with(COMMANDS["redeem"][0], "-p", "-5"))
    assert negative.exit_code == 2 and "'-5' is not a positive whole number" in negative.stderr, negative.stderr


@pytest.mark.parametrize(("option", "value"), [("-c", "c-4155550199"), ("--adjustment", "a-4155550199"), ("--reason", "tel-4155550199")])
def test_with_the_registry_wired_a_members_number_in_its_national_form_is_refused(
    books: FakeLedger, wired: MemberRegistry, option: str, value: str
) -> None:
    args, _ = COMMANDS["adjust"]
    assert "looks like a phone" in _refused(books, _with(args, option, value), "4155550199")
    assert invoke(*_with(args, option, value.replace("0199", "0100"))).exit_code == 0  # not a member's number


@pytest.mark.parametrize("customer", ["martin_zoe", "zoemartin", "Martin-Zoe", "zoe.martin.42"])
def test_with_the_registry_wired_a_members_name_reordered_or_joined_is_refused(
    books: FakeLedger, wired: MemberRegistry, customer: str
) -> None:
    said = _refused(books, _with(COMMANDS["redeem"][0], "--reward", customer), customer)
    assert "reward looks like a member name" in said and "zoe" not in said.lower(), said


@pytest.mark.parametrize("reward", ["sku_blue_mug", "order-123", "c42", "martinez"])
def test_with_the_registry_wired_ordinary_codes_still_post(books: FakeLedger, wired: MemberRegistry, reward: str) -> None:
    args, _ = COMMANDS["redeem"]
    result = invoke(*_with(_with(args, "--redemption", f"r-{reward}"), "--reward", reward))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("sweep", "customer", "kind"), [
    ("release", "zoe_martin", "member name"), ("expire", "martinzoe", "member name"), ("release", "c-4155550199", "phone"),
])
def test_with_the_registry_wired_a_sweep_for_a_members_data_as_its_customer_is_refused(
    books: FakeLedger, wired: MemberRegistry, sweep: str, customer: str, kind: str
) -> None:
    said = _refused(books, [sweep, "--as-of", "2026-06-01T00:00:00Z", "-c", customer], customer)
    assert f"refused: personal data in the {sweep} command (customer looks like a {kind})" in said, said


def test_with_the_registry_wired_a_sweep_over_all_customers_refuses_a_members_data_found_on_the_ledger(
    books: FakeLedger, request: pytest.FixtureRequest
) -> None:
    # martin_zoe was a customer id before Zoë Martin joined: the sweeps would write it again, so they are refused
    for args in (
        ["earn", "-c", "martin_zoe", "--order", "o-z", "--amount", "100", "--ordered-at", "2025-01-05T00:00:00Z"],
        ["release", "--as-of", "2025-02-01T00:00:00Z"],
        ["earn", "-c", "martin_zoe", "--order", "o-z2", "--amount", "100", "--ordered-at", "2025-02-05T00:00:00Z"],
        ["earn", "-c", "c2", "--order", "o-c2", "--amount", "100", "--ordered-at", "2025-02-05T00:00:00Z"],
    ):
        assert invoke(*args).exit_code == 0, args
    request.getfixturevalue("wired")
    before = len(list(books.transactions()))
    for sweep in ("release", "expire"):
        refused = invoke(sweep, "--as-of", "2026-06-01T00:00:00Z")
        assert refused.exit_code == 2 and f"personal data in the {sweep} command (customer looks like a member name)" in refused.output
        assert "zoe" not in refused.output.lower()
    assert len(list(books.transactions())) == before  # nobody's points moved, c1's and c2's neither
    assert invoke("release", "--as-of", "2026-06-01T00:00:00Z", "-c", "c2").exit_code == 0  # a sweep of others still runs
    assert len(list(books.transactions())) > before
