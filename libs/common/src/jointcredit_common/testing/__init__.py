"""The test harness: real PostgreSQL and a real Kafka-protocol broker for every suite (pytest plugin)."""
