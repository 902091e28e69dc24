"""The dashboard's webhook forms: an endpoint's fields are validated by webhooks.endpoints.validation,
with the API's and the admin's rules and words."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils import timezone

from chargestations.models import Chargestation, Location
from webhooks.catalog.types import EVENT_TYPES, Category, EventType
from webhooks.endpoints import validation
from webhooks.endpoints.headers import MAX_HEADERS, headers_as_text
from webhooks.models import DeliveryStatus, Endpoint, SignatureScheme

T = TypeVar("T")

_ADDRESS_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class EventChoice:
    type: EventType
    checked: bool

    @property
    def disabled(self) -> bool:
        return not self.type.subscribable


@dataclass(frozen=True)
class EventGroup:
    category: Category
    slug: str
    choices: list[EventChoice]

    @property
    def selectable(self) -> bool:
        return any(not choice.disabled for choice in self.choices)


def _cleaned(clean: Callable[..., T], *args: Any) -> T:
    """`clean(*args)`, a FieldInvalid becoming the field's form error."""
    try:
        return clean(*args)
    except validation.FieldInvalid as exc:
        raise ValidationError(exc.messages) from None


class _AnyValues(forms.MultipleChoiceField):
    """Offers its choices, but takes any value: validation says what is wrong with one, as the API does."""

    def valid_value(self, value: str) -> bool:
        return True


def _grouped(selected: set[str]) -> list[EventGroup]:
    groups = []
    for category in Category:
        types = [t for t in EVENT_TYPES.values() if t.category is category]
        if types:
            slug = re.sub(r"[^a-z]+", "-", category.value.lower()).strip("-")
            groups.append(EventGroup(category, slug, [EventChoice(t, t.name in selected) for t in types]))
    return groups


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=validation.MAX_URL_LENGTH,
        error_messages={"max_length": validation.URL_TOO_LONG},
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/edrv"}),
        help_text=(
            "HTTPS, on a public address: every event is POSTed here, signed. Or a RabbitMQ exchange, "
            "amqps://user:password@host/vhost?exchange=NAME&routing_key=KEY: every event is published "
            "to it (routing key: the event type unless given; the password is kept encrypted, shown as ****)."
        ),
    )
    description = forms.CharField(
        label="Description",
        max_length=validation.MAX_DESCRIPTION_LENGTH,
        required=False,
        error_messages={"max_length": validation.DESCRIPTION_TOO_LONG},
    )
    # Text, checked with the other alert emails (validation.alert_emails_clean).
    alert_email = forms.CharField(
        label="Alert email",
        required=False,
        widget=forms.EmailInput,
        help_text="Told when the endpoint is disabled after failing for too long.",
    )
    more_alert_emails = forms.CharField(
        label="More alert emails",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line, or separated by commas.",
    )
    rate_limit = forms.IntegerField(
        label="Rate limit",
        required=False,
        widget=forms.NumberInput(attrs={"min": 1, "max": validation.MAX_RATE_LIMIT, "step": 1}),
        help_text=(
            f"At most this many deliveries per second (1 to {validation.MAX_RATE_LIMIT}); "
            "the rest wait their turn. Empty: no limit."
        ),
        error_messages={"invalid": validation.RATE_LIMIT_NOT_INTEGER},
    )
    # Any posted name reaches clean_events, which says what is wrong with it (none: EVENTS_EMPTY).
    events = _AnyValues(choices=[(name, name) for name in EVENT_TYPES], required=False)

    filter = forms.CharField(
        label="Content filter",
        required=False,
        strip=False,  # a JSON error's line and column are then those of the text as typed
        widget=forms.Textarea(attrs={"rows": 5, "class": "code", "spellcheck": "false"}),
        help_text=(
            "Optional JSON: only events whose payload matches are sent, e.g. "
            '{"type": "session.ended", "data": {"cost": {"amount": {"$gte": 10}}}}. '
            "Operators: $eq $neq $gt $gte $lt $lte $in $nin $startsWith $endsWith $exist $and $or $not. "
            "Empty: every event of the chosen types."
        ),
    )
    # The organization's own places are offered; another id is refused by clean_<field>, as by the API.
    locations = _AnyValues(
        label="Only events about these locations",
        required=False,
        help_text="Their chargestations, connectors and sessions included. None chosen: every location.",
    )
    chargestations = _AnyValues(
        label="Only events about these chargestations",
        required=False,
        help_text=(
            "Their connectors and sessions included; with locations too, an event about either is sent. "
            "Events about no place (organization, users, rates) are always sent."
        ),
    )
    headers = forms.CharField(
        label="Custom headers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "code", "spellcheck": "false"}),
        help_text=(
            f'Optional, sent with every delivery: one "Name: value" per line (at most {MAX_HEADERS}), '
            "e.g. Authorization: Bearer abc123."
        ),
    )
    # Not required: a form posted without it keeps the endpoint's scheme (v1 for a new one).
    signature_scheme = forms.ChoiceField(
        label="Signatures",
        choices=SignatureScheme.choices,
        initial=SignatureScheme.V1,
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": validation.SIGNATURE_SCHEME_INVALID},
        help_text=(
            "v1: HMAC-SHA256 with a shared secret. v1a: ed25519, verified with the endpoint's public key "
            "(your receiver holds no secret). Changing it makes a key of the new kind, which alone signs "
            "from then on."
        ),
    )

    def __init__(
        self, *args: Any, organization_id: int, endpoint: Endpoint | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.organization_id = organization_id
        self.endpoint = endpoint  # the one being changed: its broker password may be kept as ****
        self.fields["locations"].choices = [  # type: ignore[attr-defined]
            (location.public_id, location.name)
            for location in Location.objects.filter(organization_id=organization_id).order_by("name")
        ]
        stations = Chargestation.objects.filter(organization_id=organization_id).select_related("location")
        self.fields["chargestations"].choices = [  # type: ignore[attr-defined]
            (station.public_id, f"{station} ({station.endpoint}), {station.location.name}")
            for station in stations.order_by("name", "endpoint")
        ]

    @classmethod
    def for_endpoint(cls, endpoint: Endpoint, data: Any = None) -> "EndpointForm":
        first, *more = endpoint.alert_emails or [""]
        initial = {
            "url": endpoint.url,
            "description": endpoint.description,
            "alert_email": first,
            "more_alert_emails": "\n".join(more),
            "rate_limit": endpoint.rate_limit,
            "events": list(endpoint.events),
            "filter": json.dumps(endpoint.filter, indent=2) if endpoint.filter else "",
            "locations": list(endpoint.locations),
            "chargestations": list(endpoint.chargestations),
            "headers": headers_as_text(endpoint.headers),
            "signature_scheme": endpoint.signature_scheme,
        }
        return cls(data, initial=initial, organization_id=endpoint.organization_id, endpoint=endpoint)

    def event_groups(self) -> list[EventGroup]:
        """The catalog by category, each type marked checked as the form stands."""
        return _grouped(set(self["events"].value() or []))

    def clean_url(self) -> str:
        return _cleaned(validation.url_clean, self.cleaned_data["url"], self.endpoint)

    def clean_description(self) -> str:
        return _cleaned(validation.description_clean, self.cleaned_data["description"])

    def clean_events(self) -> list[str]:
        return _cleaned(validation.events_clean, self.cleaned_data["events"])

    def clean_rate_limit(self) -> int | None:
        return _cleaned(validation.rate_limit_clean, self.cleaned_data["rate_limit"])

    def clean_more_alert_emails(self) -> list[str]:
        return [a for a in _ADDRESS_SEPARATORS.split(self.cleaned_data["more_alert_emails"]) if a]

    def clean_filter(self) -> dict[str, Any] | None:
        return _cleaned(validation.filter_text_clean, self.cleaned_data["filter"])

    def clean_locations(self) -> list[str]:
        return self._scope_cleaned(Location, self.cleaned_data["locations"])

    def clean_chargestations(self) -> list[str]:
        return self._scope_cleaned(Chargestation, self.cleaned_data["chargestations"])

    def _scope_cleaned(self, model: type[Model], ids: list[str]) -> list[str]:
        return _cleaned(validation.scope_clean, self.organization_id, model, ids)

    def clean_headers(self) -> dict[str, str]:
        return _cleaned(validation.headers_text_clean, self.cleaned_data["headers"])

    def clean_signature_scheme(self) -> str:
        kept = self.initial.get("signature_scheme", SignatureScheme.V1)
        return _cleaned(validation.signature_scheme_clean, self.cleaned_data["signature_scheme"] or kept)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "alert_email" in cleaned and "more_alert_emails" in cleaned:
            first = [cleaned["alert_email"]] if cleaned["alert_email"] else []
            emails = [*first, *cleaned["more_alert_emails"]]
            try:
                cleaned["alert_emails"] = validation.alert_emails_clean(emails)
            except validation.FieldInvalid as exc:
                # The address at fault is in the field it was typed in; too many are "more".
                field = "alert_email" if exc.index == 0 and first else "more_alert_emails"
                self.add_error(field, exc.messages)
        return cleaned

    def service_arguments(self) -> dict[str, Any]:
        """What endpoint_create / endpoint_update take, from a valid form."""
        data = self.cleaned_data
        return {
            "url": data["url"],
            "events": data["events"],
            "description": data["description"],
            "alert_emails": data["alert_emails"],
            "rate_limit": data["rate_limit"],
            "filter": data["filter"],
            "locations": data["locations"],
            "chargestations": data["chargestations"],
            "headers": data["headers"],
            "signature_scheme": data["signature_scheme"],
        }


def _subscribable_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    return [
        (group.category.value, [(c.type.name, c.type.name) for c in group.choices if not c.disabled])
        for group in _grouped(set())
        if group.selectable
    ]


class SendTestForm(forms.Form):
    type = forms.ChoiceField(label="Test event type", choices=_subscribable_choices)


class RecoverForm(forms.Form):
    since = forms.DateField(
        label="Recover failed since",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Failed and skipped deliveries created on or after this day (UTC) are sent again.",
    )

    def clean_since(self) -> datetime:
        day = self.cleaned_data["since"]
        if day > timezone.now().date():
            raise ValidationError("The day must not be in the future.")
        return datetime.combine(day, time.min, tzinfo=UTC)


class DeliveryFilterForm(forms.Form):
    """The delivery log's filters; invalid values are ignored rather than shown as errors."""

    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *DeliveryStatus.choices]
    )
    event_type = forms.ChoiceField(
        label="Event type", required=False, choices=[("", "Any type"), *((n, n) for n in EVENT_TYPES)]
    )

    def filters(self) -> dict[str, str]:
        if not self.is_valid():
            return {"status": "", "event_type": ""}
        return {"status": self.cleaned_data["status"], "event_type": self.cleaned_data["event_type"]}
