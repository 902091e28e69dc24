from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.test import Client


def test_the_openapi_schema_generates_without_warnings(tmp_path: Path) -> None:
    target = tmp_path / "schema.yaml"

    # --fail-on-warn turns any warning (an undocumented field, an unresolvable type) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    paths = yaml.safe_load(target.read_text())["paths"]
    for route in ("locations", "chargestations", "connectors", "rates", "users", "sessions"):
        assert {"get", "post"} <= set(paths[f"/api/v1/{route}/"])
        assert {"get", "put", "patch", "delete"} <= set(paths[f"/api/v1/{route}/{{id}}/"])
    assert {"get", "patch"} <= set(paths["/api/v1/organization/"])


@pytest.mark.django_db
def test_the_schema_and_docs_are_served(client: Client) -> None:
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
