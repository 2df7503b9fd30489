"""Domain errors raised by the services; the API maps each one to a status and a code."""


class ServiceError(Exception):
    """A dependency (queue, table, LLM) could not do its part for this request."""


class QueueUnavailableError(ServiceError):
    """SQS refused or did not answer the SendMessage call; `maybe_sent` unless SQS answered
    that it did not take the message (then retrying the same call may be refused too)."""

    def __init__(self, message: str, *, maybe_sent: bool = True) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class MessageRejectedError(ServiceError):
    """SQS refused the message itself (e.g. InvalidMessageContents): retrying cannot help."""


class EnqueueUncertainError(ServiceError):
    """SQS did not confirm the message and the job's record could not be ended either, so the
    job may still run: the client must look it up (`job_id`) before submitting again."""

    def __init__(self, message: str, *, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id


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
