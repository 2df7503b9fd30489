"""Runnable examples of calling the API (standard library only, so they run anywhere)."""
