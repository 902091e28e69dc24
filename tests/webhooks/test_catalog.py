from webhooks.catalog.types import EVENT_TYPES, OPERATIONAL, SUBSCRIBABLE, Category, Envelope


def test_catalog_lists_the_edrv_and_charger_protocol_types() -> None:
    edrv = [t for t in EVENT_TYPES.values() if t.envelope is Envelope.EDRV and t.name not in OPERATIONAL]
    charger = [t for t in EVENT_TYPES.values() if t.envelope is Envelope.CHARGER]

    assert len(edrv) == 30
    assert {t.name for t in charger} == {
        "charger.connected",
        "charger.disconnected",
        "charger.boot",
        "connector.status_changed",
        "transaction.started",
        "transaction.stopped",
        "transaction.updated",
    }


def test_the_ceiling_types_are_charging_intelligence_and_subscribable() -> None:
    intelligence = {t.name for t in EVENT_TYPES.values() if t.category is Category.INTELLIGENCE}

    assert intelligence == {
        "session.ev_charged",
        "session.stop_energy_ceiling_exceeded",
        "session.stop_time_ceiling_exceeded",
        "session.stop_cost_ceiling_exceeded",
    }
    assert intelligence <= SUBSCRIBABLE
    assert set(EVENT_TYPES) == SUBSCRIBABLE  # nothing is "coming soon" any more
    assert "session.stop_duration_ceiling_exceeded" not in EVENT_TYPES


def test_every_type_has_an_object_and_a_description() -> None:
    for event_type in EVENT_TYPES.values():
        assert event_type.object and event_type.description.endswith("."), event_type.name


def test_the_operational_types_are_a_category_of_their_own_about_webhooks_and_deliveries() -> None:
    operations = {t.name: t for t in EVENT_TYPES.values() if t.category is Category.OPERATIONS}

    expected = {
        "webhook.created",
        "webhook.updated",
        "webhook.deleted",
        "webhook.disabled",
        "webhook.failing",
        "webhook.recovered",
        "delivery.exhausted",
    }
    assert set(operations) == OPERATIONAL == expected
    assert OPERATIONAL <= SUBSCRIBABLE
    assert {t.object for t in operations.values()} == {"webhook", "delivery"}
    assert {t.envelope for t in operations.values()} == {Envelope.EDRV}
    assert Category.OPERATIONS.value == "Webhook operations"
