"""User: the extraction output, whose validation is what makes a bad answer a 422."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gen_ai_on_aws.models.user import User


def test_accepts_a_person_with_and_without_email() -> None:
    assert User(name="Jason", age=25).email is None
    assert User(name="Ann", age=0, email="ann@example.com").email == "ann@example.com"


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "", "age": -1},  # what a model says when the text describes nobody
        {"name": "   ", "age": 30},
        {"name": "Jason", "age": 151},
        {"name": "J" * 201, "age": 30},
        {"name": "Jason", "age": 30, "email": "a" * 321},
        {"age": 30},
    ],
)
def test_rejects_output_that_is_not_a_plausible_person(payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        User.model_validate(payload)


def test_strips_whitespace_around_the_name() -> None:
    assert User(name="  Jason ", age=25).name == "Jason"
