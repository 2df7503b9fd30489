"""Producer API for asynchronous LLM jobs on AWS serverless (FastAPI on Lambda, SQS, DynamoDB)."""

import os

__version__ = "0.1.0"

# litellm downloads its model cost map from GitHub when first imported unless told otherwise:
# a network call at cold start that we do not need. An explicit environment value still wins.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
