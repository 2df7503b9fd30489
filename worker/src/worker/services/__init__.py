"""The worker's services: job store, LLM gateway, tracing, metrics and the record processor."""
