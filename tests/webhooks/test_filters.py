"""The filter language (webhooks.routing.filters): every operator and combinator, matching and not, and the
validation messages that say where a malformed filter is wrong. Pure: no database."""

from typing import Any

import pytest

from webhooks.routing.filters import MAX_CONDITIONS, MAX_DEPTH, FilterError, filter_compile, filter_validate

# A session.ended envelope, as delivered (envelope A), with the shapes the language must handle:
# nested objects, arrays of strings and of objects, numbers, booleans and nulls.
SESSION = {
    "_id": "evt_1",
    "type": "session.ended",
    "object": "session",
    "createdAt": "2026-02-06T14:30:00.000Z",
    "data": {
        "_id": "ses_1",
        "status": "ended",
        "chargestation": "cs_north_1",
        "transaction_id": 42,
        "failure_reason": "",
        "ev_charged_at": None,
        "cost": {"amount": 12.5, "currency": "EUR"},
        "metrics": {"energyConsumed": 7400, "chargingStart": "2026-02-06T13:00:00Z"},
        "tags": ["fleet", "north"],
        "meta_data": {"public": True, "priority": 1},
        "price_components": [{"type": "ENERGY", "price": 0.3}, {"type": "TIME", "price": 2}],
    },
}


def matches(spec: dict[str, Any], envelope: dict[str, Any] = SESSION) -> bool:
    return filter_compile(spec)(envelope)


def on_data(**conditions: Any) -> dict[str, Any]:
    return {"data": conditions}


# Exact values, nested objects, arrays.


@pytest.mark.parametrize(
    "spec, expected",
    [
        ({}, True),
        ({"type": "session.ended"}, True),
        ({"type": "session.started"}, False),
        ({"type": "session.ended", "object": "session"}, True),
        ({"type": "session.ended", "object": "location"}, False),
        (on_data(cost={"currency": "EUR"}), True),
        (on_data(cost={"currency": "USD"}), False),
        (on_data(cost={"currency": "EUR", "amount": 12.5}), True),
        (on_data(transaction_id=42), True),
        (on_data(transaction_id=42.0), True),
        (on_data(transaction_id="42"), False),
        (on_data(meta_data={"public": True}), True),
        (on_data(meta_data={"priority": True}), False),  # 1 is not true
        (on_data(meta_data={"public": 1}), False),
        (on_data(ev_charged_at=None), True),
        (on_data(failure_reason=None), False),
        (on_data(missing=None), False),  # null is a value: an absent field is not null
        (on_data(cost="EUR"), False),  # a value never matches an object
        (on_data(status={"currency": "EUR"}), False),  # nor an object a string
    ],
)
def test_exact_values_and_nested_objects(spec: dict[str, Any], expected: bool) -> None:
    assert matches(spec) is expected


@pytest.mark.parametrize(
    "spec, expected",
    [
        (on_data(tags="north"), True),
        (on_data(tags="south"), False),
        (on_data(tags=["north", "fleet"]), True),  # each one contained, in any order
        (on_data(tags=["north", "south"]), False),
        (on_data(price_components={"type": "TIME"}), True),  # an object item matches
        (on_data(price_components={"type": "TIME", "price": 0.3}), False),  # within one item
        (on_data(price_components=[{"type": "TIME"}, {"type": "ENERGY"}]), True),
        (on_data(status=["ended"]), False),  # an array condition needs an array
    ],
)
def test_an_array_matches_when_it_contains_the_value(spec: dict[str, Any], expected: bool) -> None:
    assert matches(spec) is expected


def test_the_charger_protocol_envelope_is_matched_the_same_way() -> None:
    transaction = {
        "event": "transaction.started",
        "timestamp": "2026-02-06T14:30:00.000Z",
        "data": {"transactionId": 12345, "chargeBoxId": "CHARGER-001", "connectorId": 1, "meterStart": 0},
    }

    assert matches({"event": "transaction.started", "data": {"chargeBoxId": "CHARGER-001"}}, transaction)
    assert not matches({"type": "transaction.started"}, transaction)  # envelope B has no `type`


# Operators, each matching and not.


@pytest.mark.parametrize(
    "condition, matching, not_matching",
    [
        ({"$eq": "ended"}, "ended", "started"),
        ({"$eq": {"currency": "EUR"}}, {"currency": "EUR"}, {"currency": "EUR", "amount": 1}),
        ({"$eq": 1}, 1.0, True),
        ({"$neq": "ended"}, "started", "ended"),
        ({"$gt": 10}, 10.5, 10),
        ({"$gte": 10}, 10, 9.99),
        ({"$lt": 10}, -1, 10),
        ({"$lte": 10}, 10, 11),
        ({"$gt": "2026-02-06T00:00:00Z"}, "2026-02-06T14:30:00Z", "2026-02-05T23:59:59Z"),
        ({"$lt": "b"}, "a", "c"),
        ({"$gt": 1}, 2, "2"),  # a number compares with numbers only
        ({"$gte": 0}, 0, False),  # false is not 0
        ({"$in": ["ended", "cancelled"]}, "cancelled", "started"),
        ({"$in": [1, 2]}, 2, True),
        ({"$in": [None, 1]}, None, 0),
        ({"$in": "north"}, "north-1-east", "south-2"),  # given a string: the value contains it
        ({"$nin": ["ended", "cancelled"]}, "started", "ended"),
        ({"$nin": "plaza"}, "Central Station", "Central plaza"),
        ({"$startsWith": "CP-"}, "CP-0001", "XCP-1"),
        ({"$endsWith": "@example.com"}, "ops@example.com", "ops@example.org"),
        ({"$startsWith": "1"}, "123", 123),  # strings only
        ({"$not": {"$in": ["ended", "cancelled"]}}, "started", "ended"),
        ({"$not": "ended"}, "started", "ended"),
        ({"$and": [{"$gte": 10}, {"$lt": 20}]}, 15, 20),
        ({"$or": [{"$lt": 0}, {"$gt": 100}]}, 101, 50),
        ({"$or": ["ended", "cancelled"]}, "ended", "started"),
        ({"$gte": 10, "$lt": 20}, 19, 9),  # several operators on one field: all of them
    ],
)
def test_each_operator_matches_and_does_not(condition: Any, matching: Any, not_matching: Any) -> None:
    test = filter_compile({"field": condition})

    assert test({"field": matching}) is True
    assert test({"field": not_matching}) is False


@pytest.mark.parametrize(
    "condition, on_array, expected",
    [
        ({"$eq": "north"}, ["fleet", "north"], True),
        ({"$eq": ["fleet", "north"]}, ["fleet", "north"], True),  # the array itself
        ({"$neq": "north"}, ["fleet", "north"], False),  # none of the items may equal it
        ({"$neq": "south"}, ["fleet", "north"], True),
        ({"$gt": 10}, [1, 11], True),
        ({"$gt": 10}, [1, 2], False),
        ({"$in": ["south", "north"]}, ["fleet", "north"], True),
        ({"$nin": ["south", "north"]}, ["fleet", "north"], False),
        ({"$nin": ["south"]}, ["fleet", "north"], True),
        ({"$startsWith": "nor"}, ["fleet", "north"], True),
        ({"$endsWith": "xyz"}, ["fleet", "north"], False),
    ],
)
def test_operators_on_an_array_look_at_its_items(condition: Any, on_array: list[Any], expected: bool) -> None:
    assert filter_compile({"field": condition})({"field": on_array}) is expected


@pytest.mark.parametrize(
    "spec, expected",
    [
        (on_data(ev_charged_at={"$exist": True}), True),  # present, even as null
        (on_data(ev_charged_at={"$exist": False}), False),
        (on_data(discount_code={"$exist": False}), True),
        (on_data(discount_code={"$exist": True}), False),
        (on_data(cost={"discount": {"$exist": False}}), True),
        (on_data(discount_code={"$neq": "X"}), True),  # $neq and $nin hold for an absent field
        (on_data(discount_code={"$nin": ["X"]}), True),
        (on_data(discount_code={"$eq": None}), False),
        (on_data(discount_code={"$not": {"$exist": True}}), True),
    ],
)
def test_exist_tells_present_from_absent(spec: dict[str, Any], expected: bool) -> None:
    assert matches(spec) is expected


# Combinators on whole envelopes.


@pytest.mark.parametrize(
    "spec, expected",
    [
        ({"$or": [{"type": "session.started"}, {"type": "session.ended"}]}, True),
        ({"$or": [{"type": "session.started"}, {"data": {"status": "started"}}]}, False),
        ({"$and": [{"type": "session.ended"}, on_data(cost={"amount": {"$gte": 10}})]}, True),
        ({"$and": [{"type": "session.ended"}, on_data(cost={"amount": {"$gte": 20}})]}, False),
        ({"$not": {"type": "session.started"}}, True),
        ({"$not": {"data": {"tags": "north"}}}, False),
        ({"type": "session.ended", "$not": on_data(cost={"currency": "USD"})}, True),
        ({"$or": [{"$and": [{"object": "session"}, on_data(tags="south")]}, on_data(tags="fleet")]}, True),
    ],
)
def test_and_or_not_combine_whole_conditions(spec: dict[str, Any], expected: bool) -> None:
    assert matches(spec) is expected


def test_a_compiled_filter_answers_each_envelope_on_its_own() -> None:
    # Given a compiled filter
    test = filter_compile(on_data(cost={"amount": {"$gte": 10}}))
    # When it is called on many envelopes, it gives each its own answer
    cheap = {**SESSION, "data": {**SESSION["data"], "cost": {"amount": 2}}}  # type: ignore[dict-item]
    assert [test(SESSION), test(cheap), test(SESSION)] == [True, False, True]


# Validation: what is wrong, and where.


@pytest.mark.parametrize(
    "spec, message",
    [
        ([], "A filter is a JSON object, not an array."),
        ("type", "A filter is a JSON object, not a string."),
        (None, "A filter is a JSON object, not null."),
        ({"data": {"amount": {"$gtee": 1}}}, "data.amount.$gtee: Unknown operator $gtee; the operators are"),
        (
            {"data": {"amount": {"$gte": [1]}}},
            "data.amount.$gte: $gte compares with a number or a string, not an array.",
        ),
        (
            {"data": {"amount": {"$lt": True}}},
            "data.amount.$lt: $lt compares with a number or a string, not a boolean.",
        ),
        (
            {"data": {"status": {"$in": 5}}},
            "data.status.$in: $in takes an array of values (or a string), not a number.",
        ),
        (
            {"data": {"status": {"$nin": {"a": 1}}}},
            "data.status.$nin: $nin takes an array of values (or a string), not an object.",
        ),
        (
            {"data": {"id": {"$startsWith": 1}}},
            "data.id.$startsWith: $startsWith takes a string, not a number.",
        ),
        ({"data": {"id": {"$endsWith": None}}}, "data.id.$endsWith: $endsWith takes a string, not null."),
        ({"data": {"id": {"$exist": "yes"}}}, "data.id.$exist: $exist takes true or false, not a string."),
        ({"$and": {"type": "x"}}, "$and: $and takes an array of conditions, not an object."),
        ({"$or": []}, "$or: $or needs at least one condition."),
        ({"$or": [{"type": "a"}, {"type": {"$bad": 1}}]}, "$or[1].type.$bad: Unknown operator $bad"),
        ({"$not": {"data": {"x": {"$in": 3}}}}, "$not.data.x.$in: $in takes an array"),
        ({"data": {}}, 'data: An empty object tests nothing: remove it, or use {"$exist": true}'),
        (
            {"data": {"tags": [{"$eq": 1}, {"$gt": {}}]}},
            "data.tags[1].$gt: $gt compares with a number or a string",
        ),
        ({"data": {"amount": float("nan")}}, "A filter holds only JSON values (finite numbers, no NaN)"),
    ],
)
def test_a_malformed_filter_is_refused_saying_where_and_why(spec: Any, message: str) -> None:
    with pytest.raises(FilterError) as refused:
        filter_validate(spec)

    assert str(refused.value).startswith(message)
    assert isinstance(refused.value, ValueError)


def test_a_filter_nested_too_deep_or_too_large_is_refused() -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(MAX_DEPTH + 1):
        deep = {"a": deep}
    with pytest.raises(FilterError, match=f"at most {MAX_DEPTH} levels deep"):
        filter_validate(deep)

    wide = {"$or": [{"type": f"t{n}"} for n in range(MAX_CONDITIONS)]}
    with pytest.raises(FilterError, match=f"at most {MAX_CONDITIONS} conditions"):
        filter_validate(wide)

    with pytest.raises(FilterError, match="at most 10000 characters"):
        filter_validate({"type": {"$in": ["x" * 100] * 120}})


def test_every_valid_example_of_the_docs_compiles() -> None:
    for spec in [
        {"type": "session.ended", "data": {"cost": {"amount": {"$gte": 10}}}},
        {"data": {"status": {"$not": {"$in": ["cancelled", "start_failed"]}}}},
        {"$or": [{"type": "chargestation.offline"}, {"data": {"status": "Faulted"}}]},
        {"event": "connector.status_changed", "data": {"status": {"$in": ["Faulted", "Unavailable"]}}},
        {"data": {"endpoint": {"$startsWith": "NORTH-"}, "meta_data": {"site": {"$exist": True}}}},
    ]:
        filter_validate(spec)
