"""Task `extract_user`: free text in, a validated, grounded `User` out.

Grounding: when validated with a context holding the source text (`grounding_context(text)`,
passed as instructor's `context=`), `name` must occur in that text and `age` must be a number
the text states (in digits, "41", or in words, "forty-one"), so an invented value fails
validation and instructor re-asks the model with the error; an `email` the text does not
contain is replaced by null. Without that context (serialising a response, reading a stored
result) nothing is checked.
"""

import re
import unicodedata
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from gen_ai_contracts.tasks.base import Messages, NotBlank, Sendable, Task, TaskLlm

# The contract's limit: even fully JSON-escaped (6 bytes a character) the queue message stays
# far below SQS's 256 KiB, so a validated request can always be enqueued.
MAX_TEXT_CHARS = 20_000
# A User is a few dozen tokens in any mode; the cap makes a hopeless text fail fast instead of
# letting a small model ramble until the timeout.
MAX_OUTPUT_TOKENS = 256

# The validation context key holding the text the values must come from.
SOURCE_TEXT_KEY = "source_text"

# Few-shot examples sit inside the system message: small models (SmolLM2-135M) follow them far
# better than instructions alone, and the user message stays exactly the text to read.
SYSTEM_PROMPT = """\
Extract the person described in the text as JSON with the fields name, age and email.
Use the name as written, the age in whole years, and the email exactly as written in the text.
Never invent an email: when the text has none, email is null.
Answer with the JSON object only.

Text: Maria is 31 years old and her email is maria@example.com
JSON: {"name": "Maria", "age": 31, "email": "maria@example.com"}

Text: Tom turned 45 last week.
JSON: {"name": "Tom", "age": 45, "email": null}

Text: Priya is 52 years old.
JSON: {"name": "Priya", "age": 52, "email": null}"""


class ExtractUserRequest(BaseModel):
    """Free text describing a person, to be turned into a `User`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "Jason is 25 years old, jason@example.com"}]},
    )

    text: Annotated[
        str,
        StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS),
        Sendable,
        NotBlank,
        Field(description=f"The text to read: 1 to {MAX_TEXT_CHARS:,} characters, not blank."),
    ]


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


# Numbers written in digits, not part of a longer number, a decimal or an email address.
_DIGITS = re.compile(r"(?<![\d.,])\d{1,3}(?![\d]|[.,]\d)")
_EMAIL = re.compile(r"\S+@\S+")
_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


@cache
def _number_words() -> dict[str, int]:
    """English words for 0..150 ("forty one", "a hundred and five"), hyphens as spaces."""
    words = dict(zip(_UNITS, range(20), strict=True))
    for index, tens in enumerate(_TENS):
        value = 20 + 10 * index
        words[tens] = value
        words.update({f"{tens} {unit}": value + n for n, unit in enumerate(_UNITS[1:10], 1)})
    below_100 = dict(words)
    for hundred in ("hundred", "one hundred", "a hundred"):
        words[hundred] = 100
        for rest, value in below_100.items():
            if 0 < value <= 50:
                words[f"{hundred} {rest}"] = words[f"{hundred} and {rest}"] = 100 + value
    return words


_LONGEST_NUMBER = 5  # words: "one hundred and forty nine"


def ages_in_text(text: str) -> set[int]:
    """Every whole number from 0 to 150 the text states, in digits or in English words."""
    plain = _EMAIL.sub(" ", text)
    found = {int(match) for match in _DIGITS.findall(plain) if int(match) <= 150}
    tokens = re.sub(r"[^a-z]+", " ", plain.casefold()).split()
    words, index = _number_words(), 0
    while index < len(tokens):
        # The longest number phrase at this word: "forty one" is 41, not also 40 and 1.
        for length in range(min(_LONGEST_NUMBER, len(tokens) - index), 0, -1):
            value = words.get(" ".join(tokens[index : index + length]))
            if value is not None:
                found.add(value)
                index += length
                break
        else:
            index += 1
    return found


def _require_stated_age(age: int, info: ValidationInfo) -> int:
    text = _source_text(info)
    if text is None or age in ages_in_text(text):
        return age
    raise ValueError(
        f"age must be a number the text states (digits or words); {age} is not in the text"
    )


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

    @field_validator("age")
    @classmethod
    def _age_is_in_the_text(cls, age: int, info: ValidationInfo) -> int:
        """Small models copy the prompt example's age (31) for a text that says 41."""
        return _require_stated_age(age, info)

    @field_validator("email")
    @classmethod
    def _email_is_in_the_text(cls, email: str | None, info: ValidationInfo) -> str | None:
        """An email the text does not contain is dropped, not re-asked: small models invent one
        by analogy with the prompt's example, and the field is optional."""
        text = _source_text(info)
        if email is None or text is None or _comparable(email) in _comparable(text):
            return email
        return None


def build_messages(request: ExtractUserRequest) -> Messages:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": request.text},
    ]


async def run(request: ExtractUserRequest, llm: TaskLlm) -> User:
    # The context reaches User's validators: the name must occur in the text (grounding).
    return await llm.structured(
        messages=build_messages(request),
        response_model=User,
        max_tokens=MAX_OUTPUT_TOKENS,
        context=grounding_context(request.text),
    )


TASK: Task[ExtractUserRequest, User] = Task(
    name="extract_user",
    description="Extract the person described in a text as {name, age, email}, grounded in it.",
    input_model=ExtractUserRequest,
    result_model=User,
    build_messages=build_messages,
    run=run,
)
