"""Producer API for asynchronous LLM jobs on AWS serverless (FastAPI on Lambda, SQS, DynamoDB)."""

__version__ = "0.1.0"
