"""ExtractUserRequest: what text the API accepts."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from gen_ai_contracts.tasks.extract_user import MAX_TEXT_CHARS, ExtractUserRequest


def error_types(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [error["type"] for error in exc.value.errors()]


def test_accepts_ordinary_text() -> None:
    request = ExtractUserRequest(text="Jason is 25 years old")

    assert request.text == "Jason is 25 years old"


def test_accepts_text_at_the_length_limit_including_non_ascii() -> None:
    text = "é" * MAX_TEXT_CHARS

    assert ExtractUserRequest(text=text).text == text


def test_rejects_text_one_over_the_limit() -> None:
    with pytest.raises(ValidationError) as exc:
        ExtractUserRequest(text="a" * (MAX_TEXT_CHARS + 1))

    # (`too_long` or `string_too_long`, depending on where the contract puts the length check)
    [error_type] = error_types(exc)
    assert error_type.endswith("too_long")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must not be blank|at least 1 character"),
        ("   \n\t ", "must not be blank"),
        ("Jason\x00 is 25", r"must not contain NUL characters \(position 5\)"),
        ("Jason \ufffe is 25", r"must not contain U\+FFFE \(position 6\)"),
        ("\uffff", r"must not contain U\+FFFF \(position 0\)"),
        (json.loads('"\\ud800 Jason"'), "valid string"),  # lone surrogate: no UTF-8
    ],
)
def test_rejects_unusable_text(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ExtractUserRequest(text=text)


def test_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError) as exc:
        ExtractUserRequest.model_validate({"text": "Jason is 25", "priority": "high"})

    assert error_types(exc) == ["extra_forbidden"]


@pytest.mark.parametrize("value", [25, None, ["Jason"], {"text": "x"}])
def test_rejects_text_that_is_not_a_string(value: object) -> None:
    with pytest.raises(ValidationError):
        ExtractUserRequest.model_validate({"text": value})


def test_rejects_a_missing_text() -> None:
    with pytest.raises(ValidationError) as exc:
        ExtractUserRequest.model_validate({})

    assert error_types(exc) == ["missing"]
