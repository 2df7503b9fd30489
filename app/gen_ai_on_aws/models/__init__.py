"""Pydantic models of the HTTP API (the queue envelope and task models: `gen_ai_contracts`)."""
