"""BFCL's AST checker: it accepts every possible answer of our fixture and rejects what
BFCL rejects (missing or unknown arguments, wrong types and values, calls for irrelevance)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from generation.tools import bfcl
from generation.tools.bfcl import Call
from tests.tools.bfcl_fixture import items

ITEMS = items()


def call(name: str, **arguments: Any) -> Call:
    return Call(name, arguments)


def verdict(item_id: str, calls: list[Call]) -> bfcl.Verdict:
    item = ITEMS[item_id]
    return bfcl.check(calls, item["function"], item["ground_truth"], item_id.rsplit("_", 1)[0])


def codes(v: bfcl.Verdict) -> set[str]:
    return {p.code for p in v.problems} | call_codes(v)


def call_codes(v: bfcl.Verdict) -> set[str]:
    """The calls' problems only (a failed call also leaves its expected call "missing")."""
    return {p.code for c in v.calls for p in c.problems}


def variants(item: dict[str, Any]) -> list[list[Call]]:
    """Calls for every acceptable value of every parameter, one at a time (an omission
    for ""), each with the other parameters at their plainest."""
    gold, functions = item["ground_truth"], item["function"]
    out = [bfcl.calls_from_gold(gold, functions)]
    for n, entry in enumerate(gold):
        ((name, params),) = entry.items()
        for param, options in params.items():
            for option in options:
                changed = [dict(e) for e in gold]
                changed[n] = {name: params | {param: [option]}}
                out.append(bfcl.calls_from_gold(changed, functions))
    return out


@pytest.mark.parametrize("item_id", [i for i in ITEMS if ITEMS[i]["ground_truth"]])
def test_it_accepts_every_possible_answer_of_the_fixture(item_id: str) -> None:
    for calls in variants(ITEMS[item_id]):
        for order in itertools.permutations(calls):
            v = verdict(item_id, list(order))
            assert v.valid, (order, v.reasons)
            assert sorted(c.expected for c in v.calls) == list(range(len(calls)))


@pytest.mark.parametrize("item_id", [i for i in ITEMS if not ITEMS[i]["ground_truth"]])
def test_an_irrelevance_item_passes_with_no_call_and_fails_with_one(item_id: str) -> None:
    assert verdict(item_id, []).valid
    name = ITEMS[item_id]["function"][0]["name"]
    v = verdict(item_id, [call(name, base="EUR", quote="USD")])
    assert not v.valid
    assert v.calls[0].problems[0].code == "irrelevance"


BOOKING = {"restaurant": "Luigi's", "party_size": 4, "time": "19:30"}


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"restaurant": "Luigi's", "time": "19:30"}, "missing_required"),
        (BOOKING | {"smoking": False}, "unknown_parameter"),
        (BOOKING | {"party_size": "4"}, "type_error"),
        (BOOKING | {"party_size": 4.0}, "type_error"),  # a float is no integer
        (BOOKING | {"party_size": True}, "type_error"),  # nor is a bool
        (BOOKING | {"outdoor": "no"}, "type_error"),
        (BOOKING | {"party_size": 5}, "value_error"),
        (BOOKING | {"restaurant": "Mario's"}, "value_error"),
        (BOOKING | {"outdoor": True}, "value_error"),
    ],
)
def test_it_rejects_a_call_with_one_thing_wrong(arguments: dict[str, Any], code: str) -> None:
    assert verdict("simple_1", [call("book_table", **BOOKING)]).valid
    v = verdict("simple_1", [call("book_table", **arguments)])
    assert not v.valid
    assert [p.code for p in v.calls[0].problems] == [code]


def test_strings_compare_as_bfcl_normalises_them() -> None:
    assert bfcl.normalise("April 1, 2024") == bfcl.normalise("april 1 2024") == "april12024"
    assert bfcl.normalise("Luigi's") == 'luigi"s'
    for harbour in ("saint malo", "SAINT_MALO", "St. Malo", "st*malo"):
        calls = [call("get_tide_times", harbour=h, date="2025-06-01") for h in ("Brest", harbour)]
        assert verdict("parallel_1", calls).valid, harbour
    for harbour in ("Saint\tMalo", "Saint-Maloo", "Malo"):  # a tab is not a space to BFCL
        calls = [call("get_tide_times", harbour=h, date="2025-06-01") for h in ("Brest", harbour)]
        assert not verdict("parallel_1", calls).valid, harbour


def test_an_int_is_accepted_for_a_float() -> None:
    calls = [
        call("estimate_shipping_cost", weight_kg=2, destination="Norway"),
        call("estimate_shipping_cost", weight_kg=5.5, destination="Chile"),
    ]
    assert verdict("parallel_0", calls).valid
    assert verdict(
        "simple_0", [call("convert_temperature", value=451, from_unit="F", to_unit="C")]
    ).valid
    wrong = [calls[0], call("estimate_shipping_cost", weight_kg=5, destination="Chile")]
    assert codes(verdict("parallel_0", wrong)) >= {"value_error"}


def test_optional_parameters_may_be_omitted_only_where_the_answer_says_so() -> None:
    base = {"value": 451.0, "from_unit": "fahrenheit", "to_unit": "celsius"}
    assert verdict("simple_0", [call("convert_temperature", **base)]).valid
    assert verdict("simple_0", [call("convert_temperature", **base, precision=2)]).valid
    assert not verdict("simple_0", [call("convert_temperature", **base, precision=3)]).valid
    item = ITEMS["simple_0"]
    strict = [
        {"convert_temperature": item["ground_truth"][0]["convert_temperature"] | {"precision": [2]}}
    ]
    v = bfcl.check([call("convert_temperature", **base)], item["function"], strict)
    assert not v.valid and call_codes(v) == {"missing_optional"}
    # A parameter the function takes but the answer does not list must stay out.
    trip = {"stops": ["Lyon", "Annecy", "Geneva"]}
    assert verdict("simple_2", [call("plan_route", **trip)]).valid
    gold = [{"plan_route": {"stops": [trip["stops"]]}}]
    v = bfcl.check(
        [call("plan_route", **trip, mode="driving")], ITEMS["simple_2"]["function"], gold
    )
    assert call_codes(v) == {"unexpected_parameter"}


def test_parallel_calls_match_in_any_order_each_to_one_expected_call() -> None:
    calls = [
        call("lock_door", door="Front Door"),
        call("switch_light", room="kitchen", on=False),
        call("set_thermostat", room="Living room", celsius=21),
    ]
    v = verdict("parallel_multiple_0", calls)
    assert v.valid and [c.expected for c in v.calls] == [2, 1, 0]
    twice = [call("estimate_shipping_cost", weight_kg=2.0, destination="Norway")] * 2
    v = verdict("parallel_0", twice)
    assert not v.valid
    assert [c.valid for c in v.calls] == [True, False]
    assert v.calls[1].problems[0].code == "duplicate_call"
    assert codes(v) == {"duplicate_call", "missing_call"}
    v = verdict("parallel_multiple_0", calls[:2])
    assert codes(v) == {"wrong_count", "missing_call"}
    assert "no call matches expected call 1 (set_thermostat)" in v.reasons


def test_matching_finds_an_order_that_greedy_matching_misses() -> None:
    functions = [
        {"name": "f", "parameters": {"type": "dict", "properties": {"x": {"type": "integer"}}}}
    ]
    gold = [{"f": {"x": [1, 2]}}, {"f": {"x": [1]}}]
    # The first expected call would take x=1 first and leave x=2 nothing to match.
    assert bfcl.check([call("f", x=1), call("f", x=2)], functions, gold).valid


def test_multiple_needs_the_right_function_among_several() -> None:
    right = call("convert_currency", amount=250, from_currency="eur", to_currency="jpy")
    assert verdict("multiple_0", [right]).valid
    v = verdict("multiple_0", [call("get_exchange_rate", base="EUR", quote="JPY")])
    assert not v.valid and codes(v) == {"wrong_function", "missing_call"}
    assert codes(verdict("multiple_0", [right, right])) == {"wrong_count", "duplicate_call"}


def test_a_dotted_name_may_be_called_with_underscores() -> None:
    when = {"date": "2025-03-14", "time": "10am"}
    for name in ("calendar.create_event", "calendar_create_event"):
        assert verdict("simple_3", [call(name, title="Quarterly review", when=when)]).valid
    assert not verdict(
        "simple_3", [call("calendar-create-event", title="Quarterly review", when=when)]
    ).valid


def test_objects_match_an_acceptable_pattern_key_by_key() -> None:
    def event(when: Any) -> bfcl.Verdict:
        return verdict(
            "simple_3", [call("calendar.create_event", title="quarterly review", when=when)]
        )

    assert event({"date": "2025-03-14", "time": "10:00"}).valid
    assert (
        "unexpected key 'place'"
        in event({"date": "2025-03-14", "time": "10:00", "place": "x"}).reasons[0]
    )
    assert "key 'time' is missing" in event({"date": "2025-03-14"}).reasons[0]
    assert call_codes(event({"date": "2025-03-15", "time": "10:00"})) == {"value_error"}
    assert call_codes(event("2025-03-14 10:00")) == {"type_error"}


def test_lists_keep_their_order_and_type_their_items() -> None:
    def route(stops: Any) -> bfcl.Verdict:
        return verdict("simple_2", [call("plan_route", stops=stops)])

    assert route(["lyon", "ANNECY", "Geneva"]).valid
    assert call_codes(route(["Geneva", "Annecy", "Lyon"])) == {"value_error"}
    assert call_codes(route(["Lyon", 7, "Geneva"])) == {"type_error"}
    size = {"path": "photo.png"}
    assert verdict("simple_4", [call("resize_image", **size, size=[640, 480])]).valid
    assert call_codes(verdict("simple_4", [call("resize_image", **size, size=[640.0, 480])])) == {
        "type_error"
    }


def test_a_value_of_the_answers_own_type_is_read_as_a_variable() -> None:
    # BFCL: when the answer's values are not of the declared type (a name standing for the
    # value), a value of their type passes the type check and must equal one of them.
    functions = [
        {"name": "f", "parameters": {"type": "dict", "properties": {"n": {"type": "integer"}}}}
    ]
    gold = [{"f": {"n": ["count"]}}]
    assert bfcl.check([call("f", n="count")], functions, gold).valid
    assert call_codes(bfcl.check([call("f", n="Count")], functions, gold)) == {"value_error"}
    assert call_codes(bfcl.check([call("f", n=[1])], functions, gold)) == {"type_error"}


def test_without_possible_answers_it_checks_the_calls_against_the_docs() -> None:
    functions = ITEMS["simple_1"]["function"]
    assert bfcl.check([call("book_table", **BOOKING)], functions, None).valid
    assert bfcl.check([call("book_table", **BOOKING | {"party_size": 9})], functions, None).valid
    v = bfcl.check(
        [call("book_table", **BOOKING | {"party_size": "4", "vip": True})], functions, None
    )
    assert codes(v) == {"type_error", "unknown_parameter"}
    assert codes(bfcl.check([call("order_pizza")], functions, None)) == {"unknown_function"}
    assert codes(bfcl.check([], functions, None)) == {"no_call"}


def test_arguments_that_are_not_json_are_a_reason_of_their_own() -> None:
    calls = bfcl.calls_from_openai(
        [{"id": "c1", "type": "function", "function": {"name": "book_table", "arguments": "{oops"}}]
    )
    v = verdict("simple_1", calls)
    assert not v.valid and codes(v) == {"arguments_not_json", "missing_call"}


def test_the_verdict_is_json_data_with_reasons_per_call() -> None:
    v = verdict("simple_1", [call("book_table", **BOOKING | {"party_size": "4"})])
    data = json.loads(json.dumps(v.as_dict()))
    assert data["valid"] is False and data["category"] == "simple"
    assert data["calls"][0]["problems"][0]["code"] == "type_error"
    assert v.reasons[0] == "call 1 (book_table): party_size: expected integer, got string '4'"


def test_java_and_multi_turn_items_are_refused_clearly() -> None:
    v = bfcl.check([], [], [], "simple_java")
    assert not v.valid and codes(v) == {"unsupported_category"}


def test_malformed_possible_answers_raise() -> None:
    with pytest.raises(ValueError, match="must list its acceptable values"):
        bfcl.check([], [], [{"f": {"x": 1}}])


def test_calls_and_possible_answers_convert_both_ways() -> None:
    item = ITEMS["parallel_multiple_1"]
    calls = bfcl.calls_from_gold(item["ground_truth"], item["function"])
    assert calls[0] == Call("add_task", {"title": "buy stamps"})
    assert calls[2] == Call("share_list", {"list_name": "Groceries", "emails": ["ana@example.org"]})
    exact = bfcl.gold_from_calls(calls, item["function"])
    assert bfcl.calls_from_gold(exact, item["function"]) == calls
    event = ITEMS["simple_3"]
    calls = bfcl.calls_from_gold(event["ground_truth"], event["function"])
    assert calls[0].arguments == {
        "title": "Quarterly review",
        "when": {"date": "2025-03-14", "time": "10:00"},
    }
    assert bfcl.gold_from_calls(calls, event["function"])[0]["calendar.create_event"]["when"] == [
        {"date": ["2025-03-14"], "time": ["10:00"]}
    ]


def test_evaluate_counts_accuracy_per_category() -> None:
    def sample(item_id: str, calls: list[Call]) -> tuple[Any, ...]:
        item = ITEMS[item_id]
        question = item["question"][0]
        answer = [{"role": "assistant", "content": None, "tool_calls": bfcl.tool_calls(calls)}]
        extra = {
            "bfcl": {
                "id": item_id,
                "category": item_id.rsplit("_", 1)[0],
                "ground_truth": item["ground_truth"],
            }
        }
        return item_id, question + (answer if calls else []), item["function"], extra

    rows = [
        sample("simple_1", [call("book_table", **BOOKING)]),
        sample("simple_0", [call("convert_temperature", value="hot")]),
        sample("irrelevance_0", []),
        (
            "plain",
            [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
            None,
            {},
        ),
    ]
    report = bfcl.evaluate(rows)
    assert (report["checked"], report["valid"], report["accuracy"]) == (3, 2, 0.6667)
    assert report["by_category"]["simple"] == {"checked": 2, "valid": 1, "accuracy": 0.5}
    assert report["skipped"] == {"nothing_to_check": 1}
    assert report["failures"][0]["id"] == "simple_0"
