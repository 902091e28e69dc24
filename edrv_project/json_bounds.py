"""How big and how deep a parsed JSON value is, measured without recursion (the value may be hostile)."""

import json
from typing import Any


def json_depth(value: Any) -> int:
    """How deep arrays and objects nest: a scalar is 0, `{}` and `[]` are 1, `{"a": [1]}` is 2."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def json_size(value: Any) -> int:
    """Bytes of the value as compact UTF-8 JSON (what an event carries of it, give or take the spacing)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode())
