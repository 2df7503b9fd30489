"""`User`: the output of the `extract_user` task, validated before anyone sees it.

Grounding: when validated with a context holding the source text (`grounding_context(text)`,
passed by the extraction as instructor's `context=`), `name` must occur in that text, so an
invented name fails validation and instructor re-asks the model with the error; an `email` the
text does not contain is replaced by null. Without that context (serialising a response,
reading a stored result) nothing is checked.
Same model and rules as the worker's (tests/test_contract.py compares the schemas).
"""

import unicodedata
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, ValidationInfo, field_validator

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
