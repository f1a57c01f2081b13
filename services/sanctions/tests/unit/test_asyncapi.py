"""The AsyncAPI document is generated from the event models the code uses, and docs/asyncapi.yaml is kept fresh."""

from __future__ import annotations

from pathlib import Path

import yaml

import jointcredit_common.events.schemas_sanctions  # noqa: F401 - registers sanctions' event types
from jointcredit_common.catalog import load_catalog
from jointcredit_common.events.schemas import EVENT_TYPES, json_schemas
from sanctions_service.asyncapi import build_asyncapi, to_yaml

DOC = Path(__file__).resolve().parents[4] / "docs" / "asyncapi.yaml"


def test_docs_asyncapi_yaml_is_generated_from_the_current_models():
    fresh = to_yaml(build_asyncapi())
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else None
    if current != fresh:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(fresh, encoding="utf-8")
    assert current == fresh, f"{DOC} was stale and has been regenerated; review and commit it"


def test_every_event_type_and_topic_is_documented_with_its_schema():
    doc = build_asyncapi()
    assert doc["asyncapi"] == "2.6.0"
    messages = doc["components"]["messages"]
    schemas = doc["components"]["schemas"]
    documented = {m["name"]: m for m in messages.values()}
    assert set(documented) == set(json_schemas()) == set(EVENT_TYPES)
    for type_name, schema in json_schemas().items():
        payload = schemas[documented[type_name]["payload"]["$ref"].rsplit("/", 1)[1]]
        assert set(payload["properties"]) == set(schema["properties"]), type_name
        assert payload.get("required", []) == schema.get("required", []), type_name
    for model in EVENT_TYPES.values():
        channel = doc["channels"][f"jointcredit.{model.topic}"]
        assert {"$ref": f"#/components/messages/{model.__name__}"} in channel["subscribe"]["message"]["oneOf"]
    agency_channel = doc["channels"]["jointcredit.measures.{agency}"]
    assert agency_channel["parameters"]["agency"]["schema"]["enum"] == [a.code for a in load_catalog().agencies]
    names = {m["name"] for m in (messages[r["$ref"].rsplit("/", 1)[1]] for r in agency_channel["subscribe"]["message"]["oneOf"])}
    assert names == {f"cn.dalian.jointcredit.measure.{k}.v1" for k in ("issued", "lifted", "suspended", "resumed")}
    # every $ref resolves inside the document
    text = yaml.safe_dump(doc)
    for ref in {line.split("$ref: ", 1)[1].strip().strip("'\"") for line in text.splitlines() if "$ref: " in line}:
        node = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]


async def test_the_service_serves_its_asyncapi_document(sanctions):
    async with sanctions() as h:
        as_json = (await h.client.get("/asyncapi")).json()
        as_yaml = yaml.safe_load((await h.client.get("/asyncapi.yaml")).text)
    prefix = h.runtime.settings.topic_prefix
    assert as_json == as_yaml == build_asyncapi(topic_prefix=prefix)
    assert f"{prefix}.measures.{{agency}}" in as_json["channels"]
