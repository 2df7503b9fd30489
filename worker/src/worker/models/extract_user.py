"""Request and output models of the ``extract_user`` task.

Copies of the API's `ExtractUserRequest` and `User` (docstrings included: they are part of the
JSON schema that tests/test_contract.py compares).

Grounding: when validated with a context holding the source text (``grounding_context(text)``,
passed by the task as instructor's ``context=``), ``name`` and a non-null ``email`` must occur
in that text, so an invented value fails validation and instructor re-asks the model with the
error. Without that context (reading a stored result) nothing is checked. Same rules as the API.
"""

import unicodedata
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

# The contract's limit: even fully JSON-escaped (6 bytes a character) the queue message stays
# far below SQS's 256 KiB, so a validated request can always be enqueued.
MAX_TEXT_CHARS = 20_000

# The validation context key holding the text the values must come from.
SOURCE_TEXT_KEY = "source_text"


def grounding_context(text: str) -> dict[str, Any]:
    """The validation context that makes `User` check its values against `text`."""
    return {SOURCE_TEXT_KEY: text}


def _comparable(value: str) -> str:
    """Case-, Unicode-form- and whitespace-insensitive form, for "does it occur in the text"."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def _source_text(info: ValidationInfo) -> str | None:
    context = info.context
    if not isinstance(context, Mapping):
        return None
    text = context.get(SOURCE_TEXT_KEY)
    return text if isinstance(text, str) else None


def _require_in_text(field: str, value: str, info: ValidationInfo) -> str:
    """`value`, or a ValueError instructor can send back to the model (it quotes the extracted
    value, never the text; our own logs and error messages never carry it)."""
    text = _source_text(info)
    if text is None or _comparable(value) in _comparable(text):
        return value
    raise ValueError(f"{field} must be copied from the text; {value!r} does not appear in the text")


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

    @field_validator("name")
    @classmethod
    def _name_is_in_the_text(cls, name: str, info: ValidationInfo) -> str:
        return _require_in_text("name", name, info)

    @field_validator("email")
    @classmethod
    def _email_is_in_the_text(cls, email: str | None, info: ValidationInfo) -> str | None:
        """An email the text does not contain is dropped, not re-asked: small models invent one
        by analogy with the prompt's example, and the field is optional."""
        text = _source_text(info)
        if email is None or text is None or _comparable(email) in _comparable(text):
            return email
        return None
