"""Request and output models of the ``extract_user`` task.

Copies of the API's `ExtractUserRequest` and `User` (docstrings included: they are part of the
JSON schema that tests/test_contract.py compares).
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

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
        """Refuse text the LLM call cannot use (same rules as the API)."""
        if "\x00" in text:
            raise ValueError("text must not contain NUL characters")
        if not text.strip():
            raise ValueError("text must not be blank")
        return text  # lone surrogates never get here: pydantic's str validation refuses them


class User(BaseModel):
    """A person extracted from text; the field descriptions also guide the LLM."""

    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
        Field(description="The person's name as written in the text."),
    ]
    age: Annotated[int, Field(ge=0, le=150, description="Age in whole years.")]
    email: Annotated[
        str | None,
        Field(max_length=320, description="Email address, or null when the text has none."),
    ] = None
