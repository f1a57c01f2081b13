"""The AsyncAPI 2.6 document of every topic and event type, generated from the models the code uses.

Served at ``GET /asyncapi`` (JSON) and ``GET /asyncapi.yaml``; kept in ``docs/asyncapi.yaml`` (a test fails when that
file is stale). Channels come from each event class's ``topic`` (``measures.{agency}`` becomes one parameterised
channel whose ``agency`` is an enum of the catalog's agencies); payloads are the classes' JSON Schemas.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import defaultdict
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic.json_schema import models_json_schema

import jointcredit_common.events as events_package
from jointcredit_common.catalog import load_catalog
from jointcredit_common.events.envelope import SPECVERSION
from jointcredit_common.events.schemas import EVENT_TYPES, EventData

ASYNCAPI_VERSION = "2.6.0"
REF = "#/components/schemas/{model}"

TOPIC_DESCRIPTIONS = {
    "reports": "Incidents reported by member departments, and their withdrawals (ingest → rating).",
    "ratings": "Classifications, listings and the end of credit records (rating → sanctions, repair).",
    "measures.{agency}": (
        "One topic per implementing agency: the joint reward and punishment measures it must apply, pause, resume "
        "or lift. Broker ACLs give each agency read access to its own topic only. The same events, with the same "
        "CloudEvents ids, are available by signed webhook and by `GET /v1/agencies/{agency}/measures?since=`."
    ),
    "feedback": "What implementing agencies reported back about their measures (发起-响应-反馈) (sanctions).",
    "dlq": "Events a consumer could not handle after its retries, with the error (any service).",
}

DESCRIPTION = """\
Events of the jointcredit platform (大信办字〔2020〕4号 as software). Every event is a CloudEvents 1.0 event in Kafka
binary mode: the attributes travel as `ce_*` headers, the data is the JSON message value, and the Kafka key is the
subject key (`enterprise:<USCC>` or `citizen:<keyed hash>`), so one subject's events stay in order within a topic.
Consumers must ignore fields they do not know; a breaking change is published as a new `….v2` type alongside.
Citizens appear by keyed hash and masked text; only agencies entitled to identify a person receive the encrypted ID.

Webhooks carry the same events as CloudEvents structured-mode JSON (`application/cloudevents+json`), signed with
`X-JointCredit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, with
`X-JointCredit-Event-Id` for de-duplication; retried with exponential backoff and jitter for at least 24 hours.
"""


def _channel_name(prefix: str, topic: str) -> str:
    return f"{prefix}.{topic}"


def load_all_event_types() -> None:
    """Import every ``events/schemas_<service>.py`` so that each service's event types are registered."""
    for module in pkgutil.iter_modules(events_package.__path__):
        if module.name.startswith("schemas_"):
            importlib.import_module(f"{events_package.__name__}.{module.name}")


def build_asyncapi(*, topic_prefix: str = "jointcredit", version: str = "1.0.0") -> dict[str, Any]:
    load_all_event_types()
    models: list[type[EventData]] = [EVENT_TYPES[name] for name in sorted(EVENT_TYPES)]
    _, top = models_json_schema([(m, "serialization") for m in models], ref_template=REF)
    schemas: dict[str, Any] = dict(sorted(top.get("$defs", {}).items()))
    schemas["CloudEventHeaders"] = {
        "type": "object",
        "description": "CloudEvents 1.0 attributes in Kafka binary mode (header values are UTF-8 strings).",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_subject", "ce_signature", "ce_signaturekeyid"],
        "properties": {
            "ce_specversion": {"type": "string", "const": SPECVERSION},
            "ce_id": {"type": "string", "description": "unique event id (UUID); de-duplicate on it"},
            "ce_source": {"type": "string", "description": "the emitting service, e.g. /jointcredit/sanctions"},
            "ce_type": {"type": "string", "description": "the versioned event type"},
            "ce_time": {"type": "string", "format": "date-time"},
            "ce_subject": {"type": "string", "description": "the subject key, equal to the Kafka key"},
            "content-type": {"type": "string", "const": "application/json"},
            "traceparent": {"type": "string", "description": "W3C trace context"},
            "ce_signature": {"type": "string", "description": (
                "base64 Ed25519 signature of the producing service over the topic, the key, the ce_* attributes as "
                "sent and the SHA-256 of the data bytes (docs/security.md, Event provenance); refuse an event "
                "without a valid one")},
            "ce_signaturekeyid": {"type": "string", "description": "id of the producer's signing key; the operator "
                                                                   "gives subscribers the matching public key"},
        },
    }
    messages: dict[str, Any] = {}
    by_topic: dict[str, list[str]] = defaultdict(list)
    for model in models:
        name = model.__name__
        messages[name] = {
            "name": model.type_name(),
            "title": name,
            "summary": model.summary,
            "contentType": "application/json",
            "headers": {"allOf": [{"$ref": REF.format(model="CloudEventHeaders")},
                                  {"type": "object", "properties": {"ce_type": {"const": model.type_name()}}}]},
            "payload": {"$ref": REF.format(model=name)},
            "bindings": {"kafka": {"key": {"type": "string", "description": "subject key: enterprise:<USCC> | citizen:<hash>"},
                                   "bindingVersion": "0.4.0"}},
        }
        by_topic[model.topic].append(name)
    agencies = [a.code for a in load_catalog().agencies]
    channels: dict[str, Any] = {}
    for topic in sorted(by_topic):
        channel: dict[str, Any] = {
            "description": TOPIC_DESCRIPTIONS.get(topic) or " ".join(EVENT_TYPES[m].summary for m in sorted(
                (t for t, c in EVENT_TYPES.items() if c.__name__ in by_topic[topic]))),
            "subscribe": {
                "operationId": "receive_" + topic.replace(".{agency}", "_for_agency").replace(".", "_"),
                "message": {"oneOf": [{"$ref": f"#/components/messages/{n}"} for n in by_topic[topic]]},
            },
        }
        for parameter in re.findall(r"\{(\w+)\}", topic):
            channel.setdefault("parameters", {})[parameter] = (
                {"description": "agency code from the catalog", "schema": {"type": "string", "enum": agencies}}
                if parameter == "agency" else {"schema": {"type": "string"}}
            )
        channels[_channel_name(topic_prefix, topic)] = channel
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:cn:dalian:jointcredit:events",
        "info": {"title": "jointcredit events", "version": version, "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {"development": {"url": "127.0.0.1:9092", "protocol": "kafka",
                                    "description": "make run: the embedded dev broker"}},
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None  # multi-line descriptions stay readable
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


router = APIRouter(tags=["events"])


@router.get("/asyncapi", summary="AsyncAPI document of every topic and event type (JSON)")
async def asyncapi_json(request: Request) -> JSONResponse:
    return JSONResponse(build_asyncapi(topic_prefix=request.app.state.settings.topic_prefix))


@router.get("/asyncapi.yaml", summary="AsyncAPI document of every topic and event type (YAML)", response_class=Response,
            responses={200: {"content": {"application/yaml": {"schema": {"type": "object", "description": "AsyncAPI 2.6"}}}}})
async def asyncapi_yaml(request: Request) -> Response:
    return Response(to_yaml(build_asyncapi(topic_prefix=request.app.state.settings.topic_prefix)), media_type="application/yaml")
