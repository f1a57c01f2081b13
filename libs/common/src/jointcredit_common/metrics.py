"""Prometheus metrics shared by every service (HTTP, outbox backlog, consumer lag, DLQ)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("jc_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "jc_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RATE_LIMITED = Counter("jc_http_rate_limited_total", "Requests refused with 429 by the rate limit", ["service", "key_kind"])
OUTBOX_BACKLOG = Gauge("jc_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_PUBLISHED = Counter("jc_outbox_published_total", "Outbox rows published to the broker", ["service"])
OUTBOX_PUBLISH_ERRORS = Counter("jc_outbox_publish_errors_total", "Failed outbox publish attempts", ["service"])
OUTBOX_PURGED = Counter("jc_outbox_purged_total", "Published outbox rows purged after retention", ["service"])
CONSUMED = Counter("jc_events_consumed_total", "Events handled", ["service", "consumer", "type", "result"])
CONSUMER_LAG = Gauge("jc_consumer_lag", "Messages behind the partition end", ["service", "consumer", "topic", "partition"])
DEAD_LETTERS = Counter("jc_dead_letters_total", "Events sent to the dead-letter topic", ["service", "consumer"])
EVENTS_REJECTED = Counter(
    "jc_events_rejected_total",
    "Records refused before any effect because their provenance does not hold (dead-lettered); reason is one of "
    "events/provenance.REJECT_REASONS",
    ["service", "consumer", "reason"],
)
DEAD_LETTERS_OPEN = Gauge("jc_dead_letters_open", "Dead letters not yet re-driven", ["service"])
HANDLER_LATENCY = Histogram(
    "jc_event_handler_seconds", "Event handling latency", ["service", "consumer", "type"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
