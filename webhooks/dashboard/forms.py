"""The dashboard's webhook forms: they validate as the API does (same SSRF guard, same catalog)."""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.utils import timezone

from chargestations.models import Chargestation, Location
from webhooks.catalog.types import EVENT_TYPES, SUBSCRIBABLE, Category, EventType
from webhooks.delivery import destinations
from webhooks.endpoints.headers import MAX_HEADERS, HeaderError, headers_as_text, headers_from_text
from webhooks.endpoints.validation import MAX_ALERT_EMAILS
from webhooks.models import DeliveryStatus, Endpoint
from webhooks.routing.filters import FilterError, filter_validate

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
        max_length=destinations.MAX_URL_LENGTH,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/edrv"}),
        help_text="HTTPS, on a public address. Every event is POSTed here, signed.",
    )
    description = forms.CharField(label="Description", max_length=500, required=False)
    alert_email = forms.EmailField(
        label="Alert email",
        required=False,
        help_text="Told when the endpoint is disabled after failing for too long.",
    )
    more_alert_emails = forms.CharField(
        label="More alert emails",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line, or separated by commas.",
    )
    # Every type is a choice so that a posted coming-soon type gets its own message, below.
    events = forms.MultipleChoiceField(
        choices=[(name, name) for name in EVENT_TYPES],
        error_messages={
            "required": "Choose at least one event type.",
            "invalid_choice": "%(value)s is not an event type.",
        },
    )

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
    locations = forms.MultipleChoiceField(
        label="Only events about these locations",
        required=False,
        help_text="Their chargestations, connectors and sessions included. None chosen: every location.",
    )
    chargestations = forms.MultipleChoiceField(
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

    def __init__(self, *args: Any, organization_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The organization's own places only: another organization's id is not a valid choice.
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
            "events": list(endpoint.events),
            "filter": json.dumps(endpoint.filter, indent=2) if endpoint.filter else "",
            "locations": list(endpoint.locations),
            "chargestations": list(endpoint.chargestations),
            "headers": headers_as_text(endpoint.headers),
        }
        return cls(data, initial=initial, organization_id=endpoint.organization_id)

    def event_groups(self) -> list[EventGroup]:
        """The catalog by category, each type marked checked as the form stands."""
        return _grouped(set(self["events"].value() or []))

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"].strip()
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise ValidationError("Enter a valid URL, e.g. https://example.com/hooks.") from None
        try:
            destinations.destination_check(url)
        except destinations.DestinationRefused as refused:
            raise ValidationError(f"This URL cannot receive webhooks: {refused.reason}.") from None
        return url

    def clean_events(self) -> list[str]:
        names: list[str] = self.cleaned_data["events"]
        coming_soon = [name for name in names if name not in SUBSCRIBABLE]
        if coming_soon:
            raise ValidationError(f"Coming soon, not yet subscribable: {', '.join(coming_soon)}.")
        return names

    def clean_more_alert_emails(self) -> list[str]:
        addresses = [a for a in _ADDRESS_SEPARATORS.split(self.cleaned_data["more_alert_emails"]) if a]
        invalid = []
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                invalid.append(address)
        if invalid:
            raise ValidationError(f"Not an email address: {', '.join(invalid)}.")
        return addresses

    def clean_filter(self) -> dict[str, Any] | None:
        text = self.cleaned_data["filter"]
        if not text.strip():
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None
        except RecursionError:
            raise ValidationError("Not valid JSON: nested far too deep.") from None
        try:
            filter_validate(value)
        except FilterError as exc:
            raise ValidationError(str(exc)) from None
        return value or None

    def clean_headers(self) -> dict[str, str]:
        try:
            return headers_from_text(self.cleaned_data["headers"])
        except HeaderError as exc:
            raise ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first = [cleaned["alert_email"]] if cleaned.get("alert_email") else []
        emails = list(dict.fromkeys([*first, *cleaned.get("more_alert_emails", [])]))
        if len(emails) > MAX_ALERT_EMAILS:
            self.add_error("more_alert_emails", f"At most {MAX_ALERT_EMAILS} alert emails.")
        cleaned["alert_emails"] = emails
        return cleaned

    def service_arguments(self) -> dict[str, Any]:
        """What endpoint_create / endpoint_update take, from a valid form."""
        data = self.cleaned_data
        return {
            "url": data["url"],
            "events": data["events"],
            "description": data["description"],
            "alert_emails": data["alert_emails"],
            "filter": data["filter"],
            "locations": data["locations"],
            "chargestations": data["chargestations"],
            "headers": data["headers"],
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
