"""Structured JSON logs (structlog) with the trace id bound from context and personal data scrubbed."""

from __future__ import annotations

import logging
import sys

import structlog

from jointcredit_common.pii import scrub_processor
from jointcredit_common.tracing import current_traceparent, parse_trace_id


def _add_trace(_logger: object, _method: str, event_dict: dict) -> dict:
    trace_id = parse_trace_id(current_traceparent.get())
    if trace_id:
        event_dict.setdefault("trace_id", trace_id)
    return event_dict


def configure_logging(*, service: str, level: str = "INFO", json: bool = True) -> None:
    processors: list = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace,
        structlog.processors.format_exc_info,
        scrub_processor,  # citizen ID numbers never reach a log line in clear (DESIGN §4)
    ]
    processors.append(structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer())
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
