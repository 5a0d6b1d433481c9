"""Personal data kept out of the ledger: the pattern detector, the registry's screen, build_plan's refusal,
and reconcile's ``personal_data`` check on books where personal data was posted behind the programme's back."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from support.fake_ledger import FakeLedger
from support.fake_registry import FakeRegistryStore
from support.operation_plans import every_plan
from support.report_books import tx

from loyalty_accounts.chart import Chart
from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.members import MemberRegistry, RegistryKey, RegistryScreen
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import BucketBalance, RedeemCommand, redeem
from loyalty_accounts.operations.base import written_values
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.reports.personal_data import check_personal_data
from loyalty_accounts.vocabulary.personal_data import personal_kind, screened

KEY = RegistryKey(bytes(range(32)))
LOOKS_PERSONAL = {
    "ann.lee@example.com": "email",
    "order-for-ann@mail.example.co.uk": "email",
    "+14155550100": "phone",
    "+33 6 12 34 56 78": "phone",
    "415-555-0100": "phone",
    "o-415-555-0100": "phone",
    "(415) 555-0100": "phone",
    "06 12 34 56 78": "phone",
    "415.555.0100": "phone",
    "555-0100": "phone",
    "ph-06-12-34-56-78": "phone",
    "07700 900123": "phone",
}
THE_PROJECTS_OWN = [
    "2026-10-06", "2026-10-06T03:00:00Z", "2026-10-06T03:00:00+00:00", "2026-06-01T10:00:00.123456Z", "2026.11.3",
    "1234567.89", "125.90", "o-1234567", "A-1001", "20260930T030000Z", "expire:20260930T030000Z:c42:20260930",
    "customers:c42:points:20261002", "USD/2 12345678", "PTS 1000000", "m_Q2xhcmVuY2UtMTIzNDU2Nzg", "r-5", "h-9",
    "3f9a1c2e4b5d6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8", "erasure-request", "goodwill",
    '{"amount": "20.00", "command_hash": "ab12", "currency": "USD"}', "12345678", "v2026-11-03",
    # order, reward and adjustment ids businesses use (a breaker's list): dated or numbered, not phones
    "o-20261201-1234567", "INV-2026-000123", "ord-2026-11-30-0001", "o-1234-5678", "PO-123-4567", "SO-100-200-300",
    "2026-12-01-1234567", "build-2026-11-30-1234", "gift-card-100-2026", "sku-123-4567", "adj-2026-12-01-0001",
]


@pytest.mark.parametrize(("text", "kind"), sorted(LOOKS_PERSONAL.items()))
def test_emails_and_phone_numbers_are_recognised_in_any_text(text: str, kind: str) -> None:
    assert personal_kind(text) == kind
    assert personal_kind(f"note:{text}:end") == kind


@pytest.mark.parametrize("text", THE_PROJECTS_OWN)
def test_the_projects_own_values_are_not_personal_data(text: str) -> None:
    assert personal_kind(text) is None


def test_no_value_any_operation_writes_looks_like_personal_data(chart: Chart, catalogue: Catalogue) -> None:
    # every_plan builds one plan of every operation through build_plan, which would refuse a flagged value;
    # screening them again here says so outright, including what all_metadata adds.
    plans = every_plan(chart, catalogue)
    values = {f"{p.reference} {where}": value for p in plans for where, value in written_values(p).items()}
    assert len(values) > 100
    assert screened(values) == {}


def test_build_plan_refuses_personal_data_naming_the_key_never_the_value(chart: Chart, catalogue: Catalogue) -> None:
    t = datetime(2026, 6, 1, tzinfo=timezone.utc)
    bks = [BucketBalance(expiry=date(2026, 9, 30), points=300)]
    fields = {"customer": "c42", "redemption_id": "r-5", "points": 70, "at": t}
    assert redeem.plan(RedeemCommand(**fields, reward="mug-2"), chart, catalogue, bks).metadata["reward"] == "mug-2"
    # model_construct skips the command's own checks, as a caller building commands by hand could: build_plan still refuses
    for value in ("zoe.martin@example.com", "+44 20 7946 0958", "020 7946 0958"):
        with pytest.raises(InvalidCommand) as refused:
            redeem.plan(RedeemCommand.model_construct(**fields, reward=value), chart, catalogue, bks)
        assert "metadata reward looks like" in refused.value.message and value not in refused.value.message
        assert refused.value.exit_code == 2
    with pytest.raises(InvalidCommand, match=r"\$buckets_0 looks like a phone; metadata customer looks like a phone") as refused:
        redeem.plan(RedeemCommand.model_construct(**{**fields, "customer": "415-555-0100"}), chart, catalogue, bks)
    assert "555" not in refused.value.message


@pytest.fixture
def registry() -> MemberRegistry:
    members = MemberRegistry(FakeRegistryStore(), KEY)
    members.add("Zoë Martin", email="zoe@example.org", phone="+1 415 555 0199")
    return members


@pytest.mark.parametrize(("text", "kind"), [
    ("zoe_martin", "member name"), ("Martin-Zoe", "member name"), ("c-zoe-martin-7", "member name"), ("martin", None),
    ("zoe", None), ("14155550199", "phone"), ("1-415-555-0199", "phone"), ("14155550100", None), ("alice", None),
])
def test_the_registry_screen_knows_members_names_and_numbers_by_their_digests(registry: MemberRegistry, text: str, kind: str | None) -> None:
    found = RegistryScreen(lambda: registry).members_data({"customer": text})
    assert found == ({"customer": kind} if kind else {})
    assert RegistryScreen(lambda: registry, preload=True).members_data({"customer": text}) == found


@pytest.mark.parametrize(("text", "kind"), [
    ("4155550199", "phone"), ("c-4155550199", "phone"), ("c42-4155550199", "phone"), ("o-4155550199-2", "phone"),
    ("(415) 555-0199", "phone"), ("0612345678", "phone"), ("612345678", "phone"), ("06.12.34.56.78", "phone"),
    ("ph0612345678", "phone"), ("+33 612345678", "phone"),
    ("4155550100", None), ("0612345679", None), ("+1 4155550100", None), ("o-1234567", None), ("20261002", None),
    ("expire:20260930T030000Z:c42:20260930", None), ("INV-2026-000123", None),
])
def test_the_registry_screen_knows_a_members_number_written_in_its_national_form(
    registry: MemberRegistry, text: str, kind: str | None
) -> None:
    registry.add("Ann Lee", phone="+33 6 12 34 56 78")  # stored as its E.164 digest only, like every member's
    found = RegistryScreen(lambda: registry).members_data({"customer": text})
    assert found == ({"customer": kind} if kind else {})
    assert RegistryScreen(lambda: registry, preload=True).members_data({"customer": text}) == found


@pytest.mark.parametrize("text", [
    "Martin Zoe", "martin_zoe", "martin.zoe", "zoemartin", "martinzoe", "ZoeMartin", "c-martinzoe-7", "zoemartin42",
    "m-zoe_martin", "lee_ann", "annlee", "LeeAnn", "lian", "an-li",
])
def test_the_registry_screen_knows_a_members_name_reordered_or_joined(registry: MemberRegistry, text: str) -> None:
    registry.add("Ann Lee")
    registry.add("Li An")
    assert RegistryScreen(lambda: registry).members_data({"customer": text}) == {"customer": "member name"}
    assert RegistryScreen(lambda: registry, preload=True).members_data({"customer": text}) == {"customer": "member name"}


@pytest.mark.parametrize("text", [
    "c42", "order-123", "sku_blue_mug", "martin", "zoe", "martinez", "zoematic", "zoemartina", "martin_lee", "ann_martin",
    "alien", "plain", "brilliant", "liana", "annan", "goodwill", "customers:c42:points:20261002", "expire:20260930T030000Z:c42:20260930",
])
def test_ordinary_ids_and_other_members_tokens_together_are_no_members_name(registry: MemberRegistry, text: str) -> None:
    registry.add("Ann Lee")
    registry.add("Li An")
    assert RegistryScreen(lambda: registry).members_data({"customer": text}) == {}
    assert RegistryScreen(lambda: registry, preload=True).members_data({"customer": text}) == {}


def test_no_value_any_operation_writes_is_a_registered_members(registry: MemberRegistry, chart: Chart, catalogue: Catalogue) -> None:
    registry.add("Alicia Keys", email="ak@example.net")  # neither c42 nor any code of the plans is her
    values = {f"{p.reference} {w}": v for p in every_plan(chart, catalogue) for w, v in written_values(p).items()}
    assert RegistryScreen(lambda: registry, preload=True).members_data(values) == {}


def test_reconcile_fails_on_personal_data_posted_raw_naming_the_transaction_and_field_only(
    registry: MemberRegistry, chart: Chart, catalogue: Catalogue
) -> None:
    txs = [
        tx(1, [("world", "customers:c1:points:20270101", 10)], {"operation": "earn", "reason": "goodwill"}),
        tx(2, [("world", "customers:c1:points:20270101", 10)], {"operation": "adjust", "reason": "ann@example.com"}),
        tx(3, [("world", "customers:zoe_martin:points:20270101", 10)], {"operation": "earn"}),
        tx(4, [("world", "customers:c2:points:20270101", 10)], {"operation": "earn", "note": "call 415-555-0100"}),
    ]
    by_pattern = check_personal_data(txs)
    assert by_pattern.status == "fail"
    assert by_pattern.offending == ("tx #2: metadata reason looks like an email", "tx #4: metadata note looks like a phone")
    with_registry = check_personal_data(txs, RegistryScreen(lambda: registry, preload=True))
    assert with_registry.count == 3
    assert "tx #3: posting 0 destination looks like a member name" in with_registry.offending
    shown = " ".join(with_registry.offending) + with_registry.detail
    assert "ann@" not in shown and "415" not in shown and "zoe" not in shown
    assert check_personal_data(txs[:1]).status == "pass"


def test_reconcile_on_the_ledger_reads_its_listing_and_fails_on_a_raw_posting(chart: Chart, catalogue: Catalogue) -> None:
    ledger = FakeLedger()
    plan = next(p for p in every_plan(chart, catalogue) if p.operation == "adjust")
    ledger.post(plan)
    reports = FinanceReports(ledger, chart)
    assert reports.reconcile().check("personal_data").status == "pass"
    ledger.post(plan.model_copy(update={"reference": "adjust:a-2", "metadata": {**plan.metadata, "reason": "ann@example.com"}}))
    check = reports.reconcile().check("personal_data")
    assert check.status == "fail" and check.offending == ("tx #2: metadata reason looks like an email",)
