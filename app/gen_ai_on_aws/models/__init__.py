"""Pydantic models: HTTP requests and responses, the queue envelope and the job record."""
