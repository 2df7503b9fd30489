"""Request bodies accepted by the extraction endpoints."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The contract's limit: even fully JSON-escaped (6 bytes a character) the queue message stays
# far below SQS's 256 KiB, so a validated request can always be enqueued.
MAX_TEXT_CHARS = 20_000


class ExtractUserRequest(BaseModel):
    """Free text describing a person, to be turned into a `User`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "Jason is 25 years old, jason@example.com"}]},
    )

    text: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_TEXT_CHARS,
            description=f"The text to read: 1 to {MAX_TEXT_CHARS:,} characters, not blank.",
        ),
    ]

    @field_validator("text")
    @classmethod
    def _reject_unusable_text(cls, text: str) -> str:
        """Refuse text that cannot be extracted from; pydantic already refuses lone surrogates,
        which could not be encoded into the UTF-8 queue message."""
        if "\x00" in text:
            raise ValueError("text must not contain NUL characters")
        if not text.strip():
            raise ValueError("text must not be blank")
        return text
