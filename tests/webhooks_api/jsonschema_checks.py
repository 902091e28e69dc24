"""Validating webhook bodies against the event schemas, as a careful receiver would.

`jsonschema` checks `date-time` only with an optional package this project does not install, so
the format is checked here: RFC 3339, as `createdAt` and every timestamp of the API is written.
"""

import re
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not RFC3339.match(value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    datetime.fromisoformat(value)
    return True


def errors(schema: dict[str, Any], body: Any) -> list[str]:
    """Every way `body` breaks `schema` (a 2020-12 schema, checked first), with where."""
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=FORMATS)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(body)
    ]


def resolved(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """`node` with its `$ref` (alone or as the single `allOf`) followed into `schema["$defs"]`."""
    if "allOf" in node and len(node["allOf"]) == 1:
        node = node["allOf"][0]
    if "$ref" in node:
        return schema["$defs"][node["$ref"].removeprefix("#/$defs/")]
    return node


def data_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return resolved(schema, schema["properties"]["data"])
