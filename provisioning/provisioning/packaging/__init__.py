"""Reproducible Lambda packages built with uv from the workspace members (no Docker)."""
