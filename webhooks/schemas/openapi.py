"""What the OpenAPI document's `webhooks` show: every field of each body, and a real example.

drf-spectacular marks the envelope's fields readOnly (no API call writes an event), and the API's own
components mark `_id`, `createdAt`... readOnly, as they are for the API. A webhook's body is a request
body, where OpenAPI tools leave readOnly properties out: Swagger UI at /api/docs/ showed every webhook
as `{}`, without a field, and a client generator would have made empty request types. This
postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) gives the webhooks their own
components, without readOnly:

- a component only webhooks use (the envelopes, the charger protocol's shapes) loses it in place;
- one the API uses too (Location, Session...) and that holds readOnly, itself or through what it refers
  to, is copied as `<Name>Payload` without it, for the webhooks; the API's stays as it was.

And it gives each webhook an `example`: webhooks.schemas.published_examples, built without a database.
`webhooks.schemas.envelopes.event_schema` cuts each type's JSON Schema out of the document so made.
"""

from collections.abc import Iterator
from typing import Any

from webhooks.schemas.published_examples import published_example

COMPONENTS = "#/components/schemas/"
PAYLOAD_SUFFIX = "Payload"


def _refs(node: Any) -> Iterator[str]:
    """The component names `node` refers to, directly."""
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith(COMPONENTS):
            yield reference.removeprefix(COMPONENTS)
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _reachable(roots: Iterator[str], components: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    pending = set(roots)
    while pending:
        name = pending.pop()
        if name in found or name not in components:
            continue
        found.add(name)
        pending |= set(_refs(components[name]))
    return found


def _has_read_only(node: Any) -> bool:
    if isinstance(node, dict):
        return node.get("readOnly") is True or any(_has_read_only(value) for value in node.values())
    if isinstance(node, list):
        return any(_has_read_only(item) for item in node)
    return False


def _for_webhooks(node: Any, renamed: dict[str, str]) -> Any:
    """A copy of a schema without readOnly, its references to `renamed` components pointed at theirs."""
    if isinstance(node, list):
        return [_for_webhooks(item, renamed) for item in node]
    if not isinstance(node, dict):
        return node
    copied = {
        key: _for_webhooks(value, renamed)
        for key, value in node.items()
        if not (key == "readOnly" and isinstance(value, bool))
    }
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.removeprefix(COMPONENTS) in renamed:
        copied["$ref"] = COMPONENTS + renamed[reference.removeprefix(COMPONENTS)]
    return copied


def _bodies(webhooks: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, webhook in webhooks.items():
        yield name, webhook["post"]["requestBody"]["content"]["application/json"]


def webhooks_without_read_only(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The postprocessing hook: the webhooks' components without readOnly, and an example each."""
    webhooks: dict[str, Any] = result.get("webhooks") or {}
    components: dict[str, Any] = result.get("components", {}).get("schemas", {})
    api_uses = _reachable(_refs(result.get("paths", {})), components)
    webhooks_use = _reachable((ref for _, body in _bodies(webhooks) for ref in _refs(body)), components)
    # A component changes if it holds readOnly or refers to one that changes: settled by repeating.
    changing = {name for name in webhooks_use if _has_read_only(components[name])}
    while more := {n for n in webhooks_use - changing if set(_refs(components[n])) & changing}:
        changing |= more
    renamed = {name: name + PAYLOAD_SUFFIX for name in changing & api_uses}
    if clashes := set(renamed.values()) & components.keys():
        raise ValueError(f"Webhook components would replace others: {sorted(clashes)}")
    for name in sorted(changing):
        components[renamed.get(name, name)] = _for_webhooks(components[name], renamed)
    result["components"]["schemas"] = dict(sorted(components.items()))
    for name, body in _bodies(webhooks):
        body["schema"] = _for_webhooks(body["schema"], renamed)
        body["example"] = published_example(name)
    return result
