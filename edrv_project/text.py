"""Text the database can store: PostgreSQL keeps no NUL character (U+0000) in text or jsonb."""

from typing import Any

NUL_REFUSED = "Null characters are not allowed."


def has_nul(value: Any) -> bool:
    """Whether a JSON value (any depth, keys included) holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(item) for item in value)
    return False
