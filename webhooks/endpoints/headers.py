"""Custom headers an endpoint's owner adds to every delivery (an API key of theirs, a tenant id...).

They are sent before the product's own headers, which therefore always win; still, a reserved name
is refused up front rather than silently overridden, and anything that is not valid HTTP is
refused before it could break a request or smuggle a second header into it.
"""

import re
from collections.abc import Mapping
from typing import Any

MAX_HEADERS = 20
MAX_NAME_LENGTH = 100
MAX_VALUE_LENGTH = 1000

# RFC 9110 §5.1: a field name is a token; §5.5: a value is visible ASCII, spaces and tabs (no CR/LF),
# without leading or trailing whitespace.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(r"([\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?)?")

# Why each reserved name is refused: the delivery sets it, or the connection owns it.
RESERVED: dict[str, str] = {
    "content-type": "every delivery is JSON, and says so",
    "content-length": "the body sets it",
    "content-encoding": "the body is sent as it is, not encoded",
    "host": "the endpoint URL sets it",
    "user-agent": "the delivery identifies itself",
    "edrv-signature": "the signature is the delivery's",
    "edrv-test": "it marks the product's own test events",
    "accept-encoding": "the response is read as it is, not decoded",
    "expect": "a delivery never waits for 100 Continue",
}
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
RESERVED_PREFIXES = {
    "webhook-": "the Standard Webhooks headers (id, timestamp, signature) are the delivery's",
}


class HeaderError(ValueError):
    """Invalid custom headers; the message names the header and says what is wrong."""


def headers_validate(headers: Any) -> dict[str, str]:
    """The headers with lower-cased names, or HeaderError naming the first problem found."""
    if not isinstance(headers, Mapping):
        raise HeaderError("Headers are an object of names and values.")
    if len(headers) > MAX_HEADERS:
        raise HeaderError(f"At most {MAX_HEADERS} headers ({len(headers)} given).")
    cleaned: dict[str, str] = {}
    for name, value in headers.items():
        lowered = _name_checked(name)
        if lowered in cleaned:
            raise HeaderError(f'"{name}" is given twice (header names are not case-sensitive).')
        cleaned[lowered] = _value_checked(lowered, value)
    return cleaned


def _name_checked(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise HeaderError("A header name must be a non-empty string.")
    if len(name) > MAX_NAME_LENGTH:
        raise HeaderError(f'"{name[:40]}…": a header name may be at most {MAX_NAME_LENGTH} characters.')
    if not _TOKEN.fullmatch(name):
        raise HeaderError(
            f"{name!r} is not a valid header name: use letters, digits and !#$%&'*+-.^_`|~ only (RFC 9110)."
        )
    lowered = name.lower()
    if lowered in RESERVED:
        raise HeaderError(f'"{name}" is reserved: {RESERVED[lowered]}.')
    if lowered in HOP_BY_HOP:
        raise HeaderError(f'"{name}" is reserved: it describes the connection, which is the sender\'s own.')
    for prefix, reason in RESERVED_PREFIXES.items():
        if lowered.startswith(prefix):
            raise HeaderError(f'"{name}" is reserved: names starting with "{prefix}" are reserved; {reason}.')
    return lowered


def _value_checked(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise HeaderError(f'"{name}": a header value must be a string.')
    if len(value) > MAX_VALUE_LENGTH:
        raise HeaderError(f'"{name}": a header value may be at most {MAX_VALUE_LENGTH} characters.')
    if "\r" in value or "\n" in value:
        raise HeaderError(f'"{name}": a header value may not contain a line break.')
    if not _VALUE.fullmatch(value):
        raise HeaderError(
            f'"{name}": a header value may hold only visible ASCII characters, spaces and tabs, '
            "and may not start or end with a space."
        )
    return value


def headers_as_text(headers: Mapping[str, str]) -> str:
    """`Name: value` lines by name, as the dashboard shows and edits them (PostgreSQL keeps no order)."""
    return "\n".join(f"{name}: {value}" for name, value in sorted(headers.items()))


def headers_from_text(text: str) -> dict[str, str]:
    """Parse `Name: value` lines (blank lines ignored), then validate them as the API does."""
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise HeaderError(f'Line {number} has no colon: write each header as "Name: value".')
        name = name.strip()
        if name.lower() in (given.lower() for given in headers):
            raise HeaderError(f'"{name}" is given twice (header names are not case-sensitive).')
        headers[name] = value.strip()
    return headers_validate(headers)
