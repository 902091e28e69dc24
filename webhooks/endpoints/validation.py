"""What an endpoint's fields may hold: the API, the dashboard form and the admin check the same.

One function per field takes the value as the front door parsed it (JSON, or a form's text) and
returns it cleaned, or raises FieldInvalid with the words a user is shown. Each front door only
translates that exception into its own error on the field (a DRF 400 `{"field": ["…"]}`, a form
error), so that the same bad value reads the same through the API, the dashboard and the admin.

Where a front door's own field checks a limit first (a maximum length declared for the OpenAPI
schema or the browser), it is given the message constant from here.
"""

import json
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db.models import Model

from organizations.models import ENDPOINT_LIMITS, Organization, Plan
from webhooks import signing
from webhooks.catalog.types import EVENT_TYPES, SUBSCRIBABLE
from webhooks.delivery import brokers, destinations
from webhooks.endpoints.headers import HeaderError, headers_from_text, headers_validate
from webhooks.models import Endpoint, SignatureScheme
from webhooks.routing.filters import FilterError, filter_validate
from webhooks.routing.scopes import MAX_SCOPE_IDS, scope_ids_check

MAX_ALERT_EMAILS = 20
MAX_DESCRIPTION_LENGTH = 500
MAX_URL_LENGTH = destinations.MAX_URL_LENGTH
# Far above what a receiver can take, far below what would make the setting meaningless.
MAX_RATE_LIMIT = 1000

EVENT_TYPES_ROUTE = "GET /api/v1/event-types"

URL_INVALID = "Enter a valid URL, e.g. https://example.com/hooks."
URL_TOO_LONG = f"A URL may be at most {MAX_URL_LENGTH} characters long."
URL_HELP = (
    "HTTPS, on a public address. Or a RabbitMQ exchange: "
    "amqps://user:password@host:port/vhost?exchange=NAME&routing_key=KEY (routing_key defaults to the "
    "event type; the password is stored encrypted and shown as ****)."
)
BROKER_PASSWORD_MASKED = (
    f"Give the broker's password: {brokers.MASK} keeps the stored one only for the same user, host and port."
)
EVENTS_EMPTY = f"Choose at least one event type (see {EVENT_TYPES_ROUTE})."
DESCRIPTION_TOO_LONG = f"Ensure this field has no more than {MAX_DESCRIPTION_LENGTH} characters."
EMAIL_INVALID = "Enter a valid email address."
ALERT_EMAILS_TOO_MANY = f"At most {MAX_ALERT_EMAILS} alert emails."
RATE_LIMIT_NOT_INTEGER = "A valid integer is required."
RATE_LIMIT_TOO_LOW = "Ensure this value is greater than or equal to 1."
RATE_LIMIT_TOO_HIGH = f"Ensure this value is less than or equal to {MAX_RATE_LIMIT}."
SIGNATURE_SCHEME_INVALID = (
    'Choose "v1" (HMAC-SHA256 with a shared secret, the default) or "v1a" (ed25519: receivers verify '
    "with the webhook's public key)."
)
V1A_KEYS_ARE_GENERATED = (
    "A v1a webhook signs with an ed25519 key pair generated for it: leave out secret, and verify with "
    "its publicKey."
)


class FieldInvalid(ValueError):
    """A field's value breaks a rule. `messages`: why, in words for the user (one or more);
    `index`: the item at fault when the value is a list and one item is (the API keys it so)."""

    def __init__(self, *messages: str, index: int | None = None) -> None:
        super().__init__(" ".join(messages))
        self.messages = list(messages)
        self.index = index


def _type_name(value: Any) -> str:
    # The JSON value's Python type, as DRF names it (a form's JSON field gives a str subclass).
    kind = next((t for t in (bool, int, float, str, list, dict) if isinstance(value, t)), type(value))
    return kind.__name__


def not_a_list(value: Any) -> str:
    """The message for a value that should be a list (DRF's own words, which the API has always sent)."""
    return f'Expected a list of items but got type "{_type_name(value)}".'


def not_an_object(value: Any) -> str:
    """The message for a value that should be an object (DRF's own words, as above)."""
    return f'Expected a dictionary of items but got type "{_type_name(value)}".'


def scope_too_many(model: type[Model]) -> str:
    return f"At most {MAX_SCOPE_IDS} {model._meta.verbose_name} ids."


class EndpointLimitReached(ValidationError):
    """The organization has as many endpoints as its plan allows (not a field's fault: a 400 all the same)."""


def endpoint_limit_check(*, organization: Organization) -> None:
    """EndpointLimitReached when the organization may not register one more endpoint.

    Every endpoint counts, disabled ones too (enabling one again must not pass the limit). An organization
    moved to a smaller plan keeps what it has, and adds nothing until it is under the new limit.
    """
    limit = ENDPOINT_LIMITS[Plan(organization.plan)]
    count = Endpoint.objects.filter(organization=organization).count()
    if count >= limit:
        raise EndpointLimitReached(
            f"This organization has {count} webhook endpoints, the most its "
            f"{Plan(organization.plan).label} plan allows ({limit}). Delete one to add another, "
            "or move to a larger plan."
        )


def url_clean(value: str, current: Endpoint | None = None) -> str:
    """A URL that may receive webhooks: well-formed, not too long, and accepted by the SSRF guard.

    Or a RabbitMQ exchange's amqp(s):// URL (webhooks.delivery.brokers), whose password may be given
    as `****` to keep the one stored for `current` (the endpoint being changed), provided the URL logs
    in as the same user on the same broker: a stored password never goes to a new host."""
    url = value.strip()
    if len(url) > MAX_URL_LENGTH:
        raise FieldInvalid(URL_TOO_LONG)
    if brokers.is_broker_url(url):
        return _broker_url_clean(url, current)
    try:
        URLValidator()(url)
    except ValidationError:
        raise FieldInvalid(URL_INVALID) from None
    try:
        destinations.destination_check(url)
    except destinations.DestinationRefused as refused:
        raise FieldInvalid(f"This URL cannot receive webhooks: {refused.reason}.") from None
    return url


def _broker_url_clean(url: str, current: Endpoint | None) -> str:
    try:
        broker = brokers.broker_check(url)
    except destinations.DestinationRefused as refused:
        raise FieldInvalid(f"This URL cannot receive webhooks: {refused.reason}.") from None
    if broker.password == brokers.MASK and not (
        current is not None and current.url_password and brokers.same_account(url, current.url)
    ):
        raise FieldInvalid(BROKER_PASSWORD_MASKED)
    return url


def event_type_problem(name: str) -> str:
    """Why `name` cannot be subscribed to, or "" when it can."""
    if name not in EVENT_TYPES:
        return f'"{name}" is not an event type. The valid ones are listed at {EVENT_TYPES_ROUTE}.'
    if name not in SUBSCRIBABLE:
        return f'"{name}" is coming soon, not yet subscribable.'
    return ""


def event_type_clean(value: str) -> str:
    """One subscribable event type (a test event's)."""
    if problem := event_type_problem(value):
        raise FieldInvalid(problem)
    return value


def events_clean(value: Any) -> list[str]:
    """Subscribable event types, at least one: sorted and without repeats, as they are stored.
    Every bad name is reported, in the order given."""
    if not isinstance(value, list | tuple):
        raise FieldInvalid(not_a_list(value))
    names = list(dict.fromkeys(str(name) for name in value))
    if not names:
        raise FieldInvalid(EVENTS_EMPTY)
    problems = [problem for name in names if (problem := event_type_problem(name))]
    if problems:
        raise FieldInvalid(*problems)
    return sorted(names)


def secret_clean(value: str) -> str:
    """A signing secret given by the user (`whsec_` + base64, or plain printable ASCII)."""
    try:
        signing.secret_validate(value)
    except ValueError as exc:
        raise FieldInvalid(str(exc)) from None
    return value


def signature_scheme_clean(value: Any) -> str:
    """`v1` or `v1a` (webhooks.signing says what each signs with)."""
    if value not in SignatureScheme.values:
        raise FieldInvalid(SIGNATURE_SCHEME_INVALID)
    return str(value)


def description_clean(value: str | None) -> str:
    description = (value or "").strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise FieldInvalid(DESCRIPTION_TOO_LONG)
    return description


def alert_emails_clean(value: Any) -> list[str]:
    """Email addresses told when the endpoint is disabled: valid, without repeats, at most
    MAX_ALERT_EMAILS. A bad address is reported with its index in the list."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise FieldInvalid(not_a_list(value))
    addresses = []
    for index, address in enumerate(value):
        if not isinstance(address, str):
            raise FieldInvalid(EMAIL_INVALID, index=index)
        address = address.strip()
        try:
            validate_email(address)
        except ValidationError:
            raise FieldInvalid(EMAIL_INVALID, index=index) from None
        addresses.append(address)
    emails = list(dict.fromkeys(addresses))
    if len(emails) > MAX_ALERT_EMAILS:
        raise FieldInvalid(ALERT_EMAILS_TOO_MANY)
    return emails


def rate_limit_clean(value: Any) -> int | None:
    """Deliveries per second, 1 to MAX_RATE_LIMIT; None: no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldInvalid(RATE_LIMIT_NOT_INTEGER)
    if value < 1:
        raise FieldInvalid(RATE_LIMIT_TOO_LOW)
    if value > MAX_RATE_LIMIT:
        raise FieldInvalid(RATE_LIMIT_TOO_HIGH)
    return value


def filter_clean(value: Any) -> dict[str, Any] | None:
    """A content filter (webhooks.routing.filters); None and {} are no filter (None)."""
    if value is None:
        return None
    try:
        filter_validate(value)
    except FilterError as exc:
        raise FieldInvalid(str(exc)) from None
    return value or None


def filter_text_clean(text: str) -> dict[str, Any] | None:
    """A content filter written as JSON text (a form's text area); blank is no filter."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FieldInvalid(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
    except RecursionError:
        raise FieldInvalid("Not valid JSON: nested far too deep.") from None
    return filter_clean(value)


def scope_clean(organization_id: int, model: type[Model], ids: Any) -> list[str]:
    """Ids of the organization's own locations or chargestations (`model`), without repeats."""
    if ids is None:
        return []
    if not isinstance(ids, list | tuple):
        raise FieldInvalid(not_a_list(ids))
    if not ids:
        return []
    if not all(isinstance(public_id, str) for public_id in ids):
        raise FieldInvalid(f"Give a list of {model._meta.verbose_name} ids.")
    if len(set(ids)) > MAX_SCOPE_IDS:
        raise FieldInvalid(scope_too_many(model))
    try:
        return scope_ids_check(organization_id=organization_id, model=model, public_ids=list(ids))
    except ValueError as exc:
        raise FieldInvalid(str(exc)) from None


def headers_clean(value: Any) -> dict[str, str]:
    """Custom headers (webhooks.endpoints.headers): names lower-cased; None is none."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FieldInvalid(not_an_object(value))
    try:
        return headers_validate(value)
    except HeaderError as exc:
        raise FieldInvalid(str(exc)) from None


def headers_text_clean(text: str) -> dict[str, str]:
    """Custom headers written as `Name: value` lines (the dashboard's text area)."""
    try:
        return headers_from_text(text)
    except HeaderError as exc:
        raise FieldInvalid(str(exc)) from None
