"""The single error body every failing request gets (DESIGN.md, "HTTP API")."""

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    """One problem with the request, e.g. one invalid field."""

    field: str | None = Field(
        default=None, description="Dotted path, e.g. `text`, `input.prompt` or `job_id`."
    )
    location: str | None = Field(default=None, description="`body`, `path`, `query` or `header`.")
    message: str
    type: str


class ErrorBody(BaseModel):
    """`code` is stable and machine-readable; `error` is for humans and may change."""

    error: str
    code: str
    request_id: str | None
    details: list[ErrorDetail] | None = None
