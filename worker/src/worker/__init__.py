"""Worker Lambda: consumes SQS batches of LLM jobs (see worker/README.md)."""

import os

# litellm downloads its model cost map at import unless told to use the bundled copy; a cold
# start must neither wait for nor depend on that download.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
