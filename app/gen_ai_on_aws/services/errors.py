"""Domain errors raised by the services; the API maps each one to a status and a code."""


class ServiceError(Exception):
    """A dependency (queue, table, LLM) could not do its part for this request."""


class QueueUnavailableError(ServiceError):
    """SQS refused or did not answer the SendMessage call."""


class StoreUnavailableError(ServiceError):
    """DynamoDB refused or did not answer a call on the jobs table."""


class ExtractionFailedError(ServiceError):
    """The model's answers never validated as the output model (also: no person in the text)."""


class LlmRateLimitedError(ServiceError):
    """The provider answered 429; `retry_after` is its Retry-After header, when it sent one."""

    def __init__(self, message: str, *, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LlmUnavailableError(ServiceError):
    """The provider failed transiently: 5xx, timeout, connection error, or our deadline."""


class LlmRejectedError(ServiceError):
    """The provider refused the request with a 4xx (bad key, unknown model, bad request)."""


class JobNotFoundError(LookupError):
    """No such job, or it is past its TTL."""


class JobNotCancellableError(Exception):
    """The job has left `queued` (it runs or has finished); `status` says where it is."""

    def __init__(self, status: str) -> None:
        super().__init__(f"the job is {status}")
        self.status = status
