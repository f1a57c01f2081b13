"""Events: the CloudEvents envelope, schemas, transactional outbox + relay, idempotent consumer (inbox) and DLQ."""
