"""The operators' admin: every model of the domain apps, pages that render, and lists without N+1."""

from collections.abc import Callable

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chargestations.models import Chargestation, Connector, Location, PriceComponent, Rate
from organizations.audit import SYSTEM, audit_record
from organizations.models import ApiKey, AuditEntry, Membership, Organization
from organizations.services import api_key_create
from sessions_app.models import Driver, IdTag, Session
from tests.factories import (
    ChargestationFactory,
    ConnectorFactory,
    DriverFactory,
    IdTagFactory,
    LocationFactory,
    MembershipFactory,
    OrganizationFactory,
    PriceComponentFactory,
    RateFactory,
    SessionFactory,
)
from tests.pipeline import own_queries

pytestmark = pytest.mark.django_db

DOMAIN_APPS = ("organizations", "chargestations", "sessions_app")


def _api_key() -> ApiKey:
    return api_key_create(organization=OrganizationFactory.create())[0]


def _audit_entry() -> AuditEntry:
    organization = OrganizationFactory.create()
    return audit_record(organization=organization, action="member.added", actor=SYSTEM, target_id="someone")


def _connector() -> Connector:
    station = ChargestationFactory.create()
    rate = RateFactory.create(organization=station.organization)
    return ConnectorFactory.create(chargestation=station, rate=rate)


def _session() -> Session:
    connector = _connector()
    station, rate = connector.chargestation, connector.rate
    return SessionFactory.create(chargestation=station, connector=connector, rate=rate)


# One whole object per model, with every relation its list columns show filled in.
MAKERS: dict[type[Model], Callable[[], Model]] = {
    Organization: OrganizationFactory.create,
    Membership: MembershipFactory.create,
    ApiKey: _api_key,
    AuditEntry: _audit_entry,
    Location: LocationFactory.create,
    Chargestation: ChargestationFactory.create,
    Connector: _connector,
    Rate: RateFactory.create,
    PriceComponent: PriceComponentFactory.create,
    Driver: DriverFactory.create,
    IdTag: IdTagFactory.create,
    Session: _session,
}
MODELS = list(MAKERS)


def url(model: type[Model], view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_domain_model_is_registered() -> None:
    # Given the domain apps' models, When the admin site is asked, Then each has an admin (and a maker here)
    domain_models = {m for label in DOMAIN_APPS for m in apps.get_app_config(label).get_models()}
    assert domain_models <= set(admin.site._registry)
    assert domain_models == set(MODELS)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_queries_do_not_grow_with_rows(admin_client: Client, model: type[Model]) -> None:
    # Given one object
    MAKERS[model]()
    admin_client.get(url(model, "changelist"))  # warm per-process caches (content types, session)

    # When the list is shown with one row, then with four
    with CaptureQueriesContext(connection) as one_row:
        response = admin_client.get(url(model, "changelist"))
    for _ in range(3):
        MAKERS[model]()
    with CaptureQueriesContext(connection) as four_rows:
        grown = admin_client.get(url(model, "changelist"))

    # Then both render, the second with more rows, and the number of queries is the same
    assert (response.status_code, grown.status_code) == (200, 200)
    assert grown.context["cl"].result_count == response.context["cl"].result_count + 3
    assert len(own_queries(four_rows)) == len(own_queries(one_row)), own_queries(four_rows)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_search_and_change_pages_render(admin_client: Client, model: type[Model]) -> None:
    # Given an object
    obj = MAKERS[model]()

    # When its change page and a search are shown
    change = admin_client.get(url(model, "change", obj.pk))
    search = admin_client.get(url(model, "changelist"), {"q": "x"})

    # Then both render, and its public id and timestamps are shown but not editable
    assert (change.status_code, search.status_code) == (200, 200)
    form = change.context["adminform"].form
    for name in ("public_id", "created_at", "updated_at"):
        if any(f.name == name for f in model._meta.get_fields()):
            assert name not in form.fields
            assert name in change.context["adminform"].readonly_fields


@pytest.mark.parametrize(
    # Keys, audit entries and memberships are not added here (the dashboard or create_organization).
    "model",
    [m for m in MODELS if m not in (ApiKey, AuditEntry, Membership)],
    ids=lambda m: m.__name__,
)
def test_add_pages_render(admin_client: Client, model: type[Model]) -> None:
    # Given a superuser, When an add page is asked, Then it renders
    assert admin_client.get(url(model, "add")).status_code == 200


@pytest.mark.parametrize(
    ("parent", "child"),
    [(Chargestation, Connector), (Rate, PriceComponent), (Driver, IdTag), (Organization, Membership)],
    ids=lambda m: m.__name__,
)
def test_children_are_edited_inline(admin_client: Client, parent: type[Model], child: type[Model]) -> None:
    # Given a parent object, When its change page is shown, Then its children are an inline formset
    obj = MAKERS[parent]()
    response = admin_client.get(url(parent, "change", obj.pk))
    assert child in [inline.formset.model for inline in response.context["inline_admin_formsets"]]


def test_organization_is_fixed_once_an_object_exists(admin_client: Client) -> None:
    # Given a location, When its change page is shown, Then its organization is not editable there
    location = LocationFactory.create()
    response = admin_client.get(url(Location, "change", location.pk))
    assert "organization" not in response.context["adminform"].form.fields


def test_every_admin_action_declares_its_permissions() -> None:
    # Given every model admin of ours; then each of its own actions says which permission it takes
    # (without one, anyone who may view the list may run it)
    undeclared = [
        f"{model._meta.label}.{name}"
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in (*DOMAIN_APPS, "webhooks")
        for name in model_admin.actions or ()
        if not getattr(
            getattr(model_admin, name) if isinstance(name, str) else name, "allowed_permissions", ()
        )
    ]
    assert undeclared == []
