"""A request means one thing: a body naming a field twice, NaN, or a query parameter the route does not read is
refused (400), never read one way here and another way by a proxy in front (or as today's balance)."""

from __future__ import annotations

import json

import pytest
from test_server import EARN, Served, problem_of, served  # noqa: F401  (the fixture)

from loyalty_accounts.api.context import QUERY_NAMES
from loyalty_accounts.api.strict_json import strict_loads


def test_strict_loads_reads_plain_json_and_refuses_a_repeated_key_at_any_depth() -> None:
    assert strict_loads('{"a": {"b": [1, {"c": 2}]}}') == {"a": {"b": [1, {"c": 2}]}}
    for text in ('{"a": 1, "a": 1}', '{"x": {"b": 1, "b": 2}}', '[{"c": 1, "c": 2}]'):
        with pytest.raises(json.JSONDecodeError, match="duplicate key"):
            strict_loads(text)
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(json.JSONDecodeError, match="not a JSON number"):
            strict_loads('{"points": ' + constant + "}")


def test_a_write_naming_a_field_twice_is_400_and_posts_nothing(served: Served) -> None:
    text = json.dumps(EARN)[:-1] + ', "order_id": "o-2002"}'
    assert json.loads(text)["order_id"] == "o-2002"  # what a lenient reader would have posted
    response = served.post("/earn", key=served.key("pos:earn"), content=text, headers={"content-type": "application/json"})
    doc = problem_of(response, 400, "invalid-request")
    assert "duplicate key 'order_id'" in doc["detail"]
    assert served.posted() == (0, len(served.ledgers["loyalty"].txs))
    # the same body once is posted
    response = served.post("/earn", key=served.key("pos:earn"), idem="k-2")
    assert response.status_code == 201, response.text


def test_a_caller_without_a_key_is_told_nothing_of_its_body(served: Served) -> None:
    text = json.dumps(EARN)[:-1] + ', "order_id": "o-2002"}'
    response = served.post("/earn", key=None, content=text, headers={"content-type": "application/json"})
    problem_of(response, 401, "unauthenticated")


@pytest.mark.parametrize("query", ["asof=2026-05-01", "as_of=2026-05-01&limit=3", "AS_OF=2026-05-01"])
def test_a_read_refuses_a_query_parameter_it_does_not_read(served: Served, query: str) -> None:
    key = served.key("admin")
    assert served.post("/earn", key=key).status_code == 201
    response = served.client.get(f"/v1/programmes/loyalty/members/c42/balance?{query}", headers={"Authorization": f"Bearer {key}"})
    doc = problem_of(response, 400, "invalid-request")
    assert "unknown query parameter" in doc["detail"] and "it reads as_of" in doc["detail"]
    # the parameter it reads is answered
    fine = served.client.get("/v1/programmes/loyalty/members/c42/balance?as_of=2026-07-01", headers={"Authorization": f"Bearer {key}"})
    assert fine.status_code == 200, fine.text
    assert fine.json()["total"] > 0


def test_a_write_reads_no_query_parameter_and_posts_nothing_with_one(served: Served) -> None:
    response = served.post("/earn?dry_run=true", key=served.key("pos:earn"))
    doc = problem_of(response, 400, "invalid-request")
    assert "'dry_run'" in doc["detail"] and "it reads none" in doc["detail"]
    assert served.posted()[0] == 0


def test_an_unknown_query_parameter_is_401_for_a_caller_without_a_key(served: Served) -> None:
    response = served.client.get("/v1/programmes/loyalty/reports/liability?asof=2026-05-01")
    problem_of(response, 401, "unauthenticated")


def test_every_read_names_the_query_parameters_its_docs_list(served: Served) -> None:
    reads = {path: names for path, names in QUERY_NAMES.items() if names}
    assert reads["/v1/programmes/{programme}/members/{member}/history"] == {"limit", "after"}
    assert reads["/v1/programmes/{programme}/reports/liability"] == {"as_of"}
    assert reads["/v1/programmes/{programme}/partners/{partner}/statement"] == {"from", "to"}
    key = served.key("admin")
    for path, names in reads.items():
        url = path.replace("{programme}", "loyalty").replace("{member}", "c42").replace("{partner}", "skyway")
        response = served.client.get(url + "?" + "&".join(f"{n}=" for n in sorted(names)) + "&zzz=1", headers={"Authorization": f"Bearer {key}"})
        assert "'zzz'" in problem_of(response, 400, "invalid-request")["detail"], path
