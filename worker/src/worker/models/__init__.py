"""Typed shapes the worker reads and writes: the queue envelope and the tasks' models."""
