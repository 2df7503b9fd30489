"""Worker Lambda: consumes SQS batches of LLM jobs (see worker/README.md)."""

# Imported first on purpose: it makes litellm use its bundled cost map (no download at import).
import gen_ai_contracts  # noqa: F401
