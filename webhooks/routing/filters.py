"""Content filters: the language of Hookdeck Outpost's destination filters, compiled once into closures.

A filter is a JSON object matched against the envelope an endpoint would receive. Integrators know
the language from Outpost: plain values match exactly (an array matches when it contains the
value), nested objects match nested objects, and `$`-operators compare. Compiling turns the JSON
into a tree of small functions once, so that matching an event is a few calls, not a walk that
interprets the JSON again for every event; it also validates, with a message that names where in
the filter the problem is.

Semantics, for a condition on a value (the value may be missing: the field is absent):
- a string, number, boolean or null: equal to it (1 is not true), or an array containing it;
- an array of conditions: the value is an array and each condition matches one of its items;
- an object: every part holds. A field name applies its condition to that field of the value (an
  object, or any object item of an array); an operator tests the value itself:
  `$eq` `$neq` (deep equality), `$gt` `$gte` `$lt` `$lte` (numbers with numbers, strings with
  strings), `$in` `$nin` (one of a list, or, given a string, containing it), `$startsWith`
  `$endsWith`, `$exist` (true: present, even as null; false: absent), and the combinators
  `$and` `$or` (lists of conditions on the same value) and `$not` (a condition).
  On an array, the positive operators hold when the array itself or any item satisfies them;
  `$neq` and `$nin` are exactly `$not` of `$eq` and `$in`.
"""

import json
import operator
from collections.abc import Callable
from typing import Any

from edrv_project.text import has_nul

# One sentinel for "no such field": distinct from a field that is present and null.
MISSING: Any = object()

MAX_DEPTH = 16
MAX_CONDITIONS = 500
MAX_LENGTH = 10_000  # characters of the filter as compact JSON

Predicate = Callable[[Any], bool]


class FilterError(ValueError):
    """A malformed filter; `path` says where in it (`data.amount.$gte`), `problem` what is wrong."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


def filter_validate(value: Any) -> None:
    """Raise FilterError, naming the place and the problem, unless `value` is a valid filter."""
    filter_compile(value)


def filter_compile(value: Any) -> Callable[[dict[str, Any]], bool]:
    """The filter as one function of an envelope (a dict); `{}` matches every envelope."""
    if not isinstance(value, dict):
        raise FilterError("", f"A filter is a JSON object, not {_kind(value)}.")
    try:
        length = len(json.dumps(value, separators=(",", ":"), allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        raise FilterError(
            "", "A filter holds only JSON values (finite numbers, no NaN), not nested too deep."
        ) from None
    if length > MAX_LENGTH:
        raise FilterError("", f"A filter may be at most {MAX_LENGTH} characters of JSON ({length} given).")
    if has_nul(value):
        raise FilterError("", "Text in a filter may not contain null characters (U+0000).")
    if not value:
        return lambda envelope: True
    compiler = _Compiler()
    return compiler.condition(value, "", 0)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _at(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


# Equality and order as JSON has them: booleans are not numbers, 1 equals 1.0.


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if _is_number(left):
        return _is_number(right) and left == right
    if isinstance(left, dict):
        return (
            isinstance(right, dict)
            and left.keys() == right.keys()
            and all(_equal(item, right[key]) for key, item in left.items())
        )
    if isinstance(left, list | tuple):
        return (
            isinstance(right, list | tuple)
            and len(left) == len(right)
            and all(_equal(a, b) for a, b in zip(left, right, strict=True))
        )
    return type(left) is type(right) and left == right


def _any_item(test: Predicate) -> Predicate:
    """The value satisfies `test`, or it is an array one of whose items does."""

    def matches(value: Any) -> bool:
        if test(value):
            return True
        return isinstance(value, list | tuple) and any(test(item) for item in value)

    return matches


def _negation(test: Predicate) -> Predicate:
    return lambda value: not test(value)


def _all(tests: list[Predicate]) -> Predicate:
    if len(tests) == 1:
        return tests[0]
    return lambda value: all(test(value) for test in tests)


class _Compiler:
    """One compilation: counts conditions so that a huge filter is refused, not compiled."""

    def __init__(self) -> None:
        self.conditions = 0

    def condition(self, spec: Any, path: str, depth: int) -> Predicate:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise FilterError(path, f"A filter may hold at most {MAX_CONDITIONS} conditions.")
        if depth > MAX_DEPTH:
            raise FilterError(path, f"A filter may nest at most {MAX_DEPTH} levels deep.")
        if isinstance(spec, dict):
            return self._object(spec, path, depth)
        if isinstance(spec, list):
            return self._array(spec, path, depth)
        return self._exactly(spec, path)

    def _exactly(self, spec: Any, path: str) -> Predicate:
        if isinstance(spec, str):
            # The common case, kept to plain comparisons: a string equals only a string.
            return lambda value: value == spec or (isinstance(value, list) and spec in value)
        return _any_item(lambda value: _equal(value, spec))

    def _array(self, spec: list[Any], path: str, depth: int) -> Predicate:
        wanted = [self.condition(item, _at(path, index), depth + 1) for index, item in enumerate(spec)]

        def contains_each(value: Any) -> bool:
            if not isinstance(value, list | tuple):
                return False
            return all(any(test(item) for item in value) for test in wanted)

        return contains_each

    def _object(self, spec: dict[str, Any], path: str, depth: int) -> Predicate:
        if not spec:
            raise FilterError(
                path, 'An empty object tests nothing: remove it, or use {"$exist": true} for "present".'
            )
        tests: list[Predicate] = []
        fields: list[tuple[str, Predicate]] = []
        for key, operand in spec.items():
            if not isinstance(key, str):
                raise FilterError(path, f"Field names are strings, not {_kind(key)}.")
            where = _at(path, key)
            if key.startswith("$"):
                tests.append(self._operator(key, operand, where, depth))
            else:
                fields.append((key, self.condition(operand, where, depth + 1)))
        if fields:
            tests.append(_fields(fields))
        return _all(tests)

    def _operator(self, name: str, operand: Any, path: str, depth: int) -> Predicate:
        if name in ("$and", "$or"):
            if not isinstance(operand, list):
                raise FilterError(path, f"{name} takes an array of conditions, not {_kind(operand)}.")
            if not operand:
                raise FilterError(path, f"{name} needs at least one condition.")
            tests = [self.condition(item, _at(path, index), depth + 1) for index, item in enumerate(operand)]
            if name == "$and":
                return _all(tests)
            return lambda value: any(test(value) for test in tests)
        if name == "$not":
            return _negation(self.condition(operand, path, depth + 1))
        if name not in VALUE_OPERATORS:
            raise FilterError(path, f"Unknown operator {name}; the operators are {', '.join(OPERATORS)}.")
        return _VALUE_OPERATORS[name](operand, path)


def _fields(fields: list[tuple[str, Predicate]]) -> Predicate:
    def on_object(value: Any) -> bool:
        return isinstance(value, dict) and all(test(value.get(key, MISSING)) for key, test in fields)

    def matches(value: Any) -> bool:
        if isinstance(value, list | tuple):
            return any(on_object(item) for item in value)
        return on_object(value)

    return matches


# The value operators: each checks its operand, then returns the test of a value.


def _eq(operand: Any, path: str) -> Predicate:
    return _any_item(lambda value: _equal(value, operand))


def _neq(operand: Any, path: str) -> Predicate:
    return _negation(_eq(operand, path))


def _ordering(name: str, compare: Callable[[Any, Any], bool]) -> Callable[[Any, str], Predicate]:
    def build(operand: Any, path: str) -> Predicate:
        if _is_number(operand):
            return _any_item(lambda value: _is_number(value) and compare(value, operand))
        if isinstance(operand, str):
            return _any_item(lambda value: isinstance(value, str) and compare(value, operand))
        raise FilterError(path, f"{name} compares with a number or a string, not {_kind(operand)}.")

    return build


def _in(operand: Any, path: str) -> Predicate:
    if isinstance(operand, str):
        # Outpost's `$in` with a string: the value contains it.
        return _any_item(lambda value: isinstance(value, str) and operand in value)
    if not isinstance(operand, list):
        raise FilterError(path, f"$in takes an array of values (or a string), not {_kind(operand)}.")
    strings = frozenset(item for item in operand if isinstance(item, str))
    others = [item for item in operand if not isinstance(item, str)]

    def one_of(value: Any) -> bool:
        if isinstance(value, str):
            return value in strings
        return any(_equal(value, item) for item in others)

    return _any_item(one_of)


def _nin(operand: Any, path: str) -> Predicate:
    if not isinstance(operand, list | str):
        raise FilterError(path, f"$nin takes an array of values (or a string), not {_kind(operand)}.")
    return _negation(_in(operand, path))


def _affix(name: str, test: Callable[[str, str], bool]) -> Callable[[Any, str], Predicate]:
    def build(operand: Any, path: str) -> Predicate:
        if not isinstance(operand, str):
            raise FilterError(path, f"{name} takes a string, not {_kind(operand)}.")
        return _any_item(lambda value: isinstance(value, str) and test(value, operand))

    return build


def _exist(operand: Any, path: str) -> Predicate:
    if not isinstance(operand, bool):
        raise FilterError(path, f"$exist takes true or false, not {_kind(operand)}.")
    if operand:
        return lambda value: value is not MISSING
    return lambda value: value is MISSING


_VALUE_OPERATORS: dict[str, Callable[[Any, str], Predicate]] = {
    "$eq": _eq,
    "$neq": _neq,
    "$gt": _ordering("$gt", operator.gt),
    "$gte": _ordering("$gte", operator.ge),
    "$lt": _ordering("$lt", operator.lt),
    "$lte": _ordering("$lte", operator.le),
    "$in": _in,
    "$nin": _nin,
    "$startsWith": _affix("$startsWith", str.startswith),
    "$endsWith": _affix("$endsWith", str.endswith),
    "$exist": _exist,
}
VALUE_OPERATORS = tuple(_VALUE_OPERATORS)
OPERATORS = (*VALUE_OPERATORS, "$and", "$or", "$not")
