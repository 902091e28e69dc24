"""Custom headers (webhooks.endpoints.headers): valid HTTP only, reserved names refused, at most 20."""

import pytest

from webhooks.endpoints.headers import (
    MAX_HEADERS,
    HeaderError,
    headers_as_text,
    headers_from_text,
    headers_validate,
)


def test_valid_headers_are_kept_with_lower_cased_names() -> None:
    assert headers_validate(
        {"Authorization": "Bearer abc.def", "X-Tenant-ID": "north 1", "x-empty": "", "X-Tab": "a\tb"}
    ) == {"authorization": "Bearer abc.def", "x-tenant-id": "north 1", "x-empty": "", "x-tab": "a\tb"}


@pytest.mark.parametrize(
    "name",
    [
        "Content-Type",
        "content-length",
        "Host",
        "User-Agent",
        "webhook-id",
        "Webhook-Signature",
        "webhook-anything",
        "edrv-signature",
        "EDRV-Test",
        "Connection",
        "Transfer-Encoding",
        "keep-alive",
        "TE",
        "Upgrade",
        "Content-Encoding",
        "Expect",
    ],
)
def test_a_reserved_name_is_refused_naming_it(name: str) -> None:
    with pytest.raises(HeaderError, match=f'^"{name}" is reserved: '):
        headers_validate({name: "x"})


@pytest.mark.parametrize(
    "headers, message",
    [
        ({"X Tenant": "a"}, "'X Tenant' is not a valid header name"),
        ({"X-Tenant:": "a"}, "'X-Tenant:' is not a valid header name"),
        ({"X-Ünicode": "a"}, "'X-Ünicode' is not a valid header name"),
        ({"": "a"}, "A header name must be a non-empty string."),
        ({"x-" + "a" * 100: "a"}, "a header name may be at most 100 characters"),
        ({"X-Tenant": "a\r\nX-Injected: 1"}, '"x-tenant": a header value may not contain a line break.'),
        ({"X-Tenant": "a\nb"}, '"x-tenant": a header value may not contain a line break.'),
        ({"X-Tenant": "caf\u00e9"}, '"x-tenant": a header value may hold only visible ASCII characters'),
        ({"X-Tenant": "a\x00b"}, '"x-tenant": a header value may hold only visible ASCII characters'),
        ({"X-Tenant": " padded"}, "may not start or end with a space"),
        ({"X-Tenant": "x" * 1001}, '"x-tenant": a header value may be at most 1000 characters.'),
        ({"X-Tenant": 5}, '"x-tenant": a header value must be a string.'),
        ({"X-Tenant": "a", "x-tenant": "b"}, '"x-tenant" is given twice'),
        (["X-Tenant"], "Headers are an object of names and values."),
    ],
)
def test_invalid_names_and_values_are_refused_saying_why(headers: object, message: str) -> None:
    with pytest.raises(HeaderError) as refused:
        headers_validate(headers)

    assert message in str(refused.value)


def test_at_most_twenty_headers() -> None:
    headers_validate({f"x-h{n}": "v" for n in range(MAX_HEADERS)})
    with pytest.raises(HeaderError, match=f"At most {MAX_HEADERS} headers \\(21 given\\)"):
        headers_validate({f"x-h{n}": "v" for n in range(MAX_HEADERS + 1)})


def test_the_dashboard_text_form_round_trips_and_is_validated_alike() -> None:
    text = "Authorization: Bearer a:b\n\n  X-Tenant :  north  \n"

    headers = headers_from_text(text)

    assert headers == {"authorization": "Bearer a:b", "x-tenant": "north"}
    assert headers_from_text(headers_as_text(headers)) == headers
    with pytest.raises(HeaderError, match='Line 2 has no colon: write each header as "Name: value"'):
        headers_from_text("X-A: 1\nX-B 2")
    with pytest.raises(HeaderError, match='"Host" is reserved'):
        headers_from_text("Host: example.com")
    with pytest.raises(HeaderError, match='"x-a" is given twice'):
        headers_from_text("X-A: 1\nx-a: 2")
