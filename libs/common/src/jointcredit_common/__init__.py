"""Shared platform code for jointcredit services.

Every service stands on the same pieces, built once here: settings, database sessions and migrations,
the CloudEvents envelope, the transactional outbox and its relay, the idempotent consumer (inbox),
bearer-token auth, RFC 9457 problem details, health, metrics, structured logs and the test harness.
"""
