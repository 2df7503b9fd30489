"""User: the extraction output, whose validation is what makes a bad answer a 422."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gen_ai_contracts.tasks.extract_user import User, grounding_context


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


# Grounding: with the source text as validation context, values must occur in that text.

TEXT = "Jason is 25 years old"
CONTEXT = grounding_context(TEXT)


def test_grounding_accepts_values_copied_from_the_text() -> None:
    # GIVEN a name that is only part of the text, no email
    user = User.model_validate({"name": "Jason", "age": 25, "email": None}, context=CONTEXT)
    assert (user.name, user.email) == ("Jason", None)


def test_grounding_ignores_case_and_whitespace_differences() -> None:
    context = grounding_context("MARY  ANN\nis 30, write to Mary.Ann@Example.COM")
    user = User.model_validate(
        {"name": " mary ann ", "age": 30, "email": "mary.ann@example.com"}, context=context
    )
    assert (user.name, user.email) == ("mary ann", "mary.ann@example.com")


def test_grounding_drops_an_email_the_text_does_not_contain() -> None:
    payload = {"name": "Jason", "age": 25, "email": "jason@example.com"}

    user = User.model_validate(payload, context=CONTEXT)

    assert (user.name, user.age, user.email) == ("Jason", 25, None)


def test_grounding_refuses_an_invented_name() -> None:
    with pytest.raises(ValidationError) as raised:
        User.model_validate({"name": "Maria", "age": 25}, context=CONTEXT)

    [error] = raised.value.errors()
    assert error["loc"] == ("name",)
    assert "name must be copied from the text; 'Maria' does not appear" in error["msg"]


def test_grounding_applies_to_json_validation_as_instructor_does_it() -> None:
    with pytest.raises(ValidationError, match="name must be copied"):
        User.model_validate_json('{"name": "Maria", "age": 25}', context=CONTEXT)
    user = User.model_validate_json(
        '{"name": "Jason", "age": 25, "email": "x@example.com"}', context=CONTEXT
    )
    assert user.email is None


@pytest.mark.parametrize("context", [None, {}, {"other": TEXT}, {"source_text": 42}, "text"])
def test_without_the_source_text_nothing_is_checked(context: object) -> None:
    # Serialising a response or reading a stored result passes no context.
    user = User.model_validate(
        {"name": "Maria", "age": 25, "email": "maria@example.com"}, context=context
    )
    assert user.email == "maria@example.com"
    assert User(name="Maria", age=25, email="maria@example.com") == user
    assert User.model_validate_json(user.model_dump_json()) == user


# Age grounding: a number the text states, in digits or in words.


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("Dr. Maria Gonzalez, aged 41, lives in Madrid", 41),
        ("Tom is forty-one and lives in Leeds", 41),
        ("Tom is forty one", 41),
        ("Ann turned a hundred and five", 105),
        ("Ann is twenty", 20),
        ("Bob, 7 years", 7),
        ("Ada (36) writes code", 36),
    ],
)
def test_an_age_the_text_states_is_accepted(text: str, age: int) -> None:
    name = text.split()[0].strip(",.") if not text.startswith("Dr.") else "Maria Gonzalez"
    user = User.model_validate({"name": name, "age": age}, context=grounding_context(text))
    assert user.age == age


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("Dr. Maria Gonzalez, aged 41, lives in Madrid", 31),  # the prompt example's age
        ("Tom is forty-one", 40),  # part of a number is not that number
        ("Tom is forty-one", 1),
        ("Ann was born in 1990", 36),  # a computed age is not stated
        ("Pi is 3.14 and Ann is nice", 3),  # a decimal is not an age
        ("mail ann42@example.com: Ann is nice", 42),  # digits inside an email are not an age
    ],
)
def test_an_age_the_text_does_not_state_is_refused(text: str, age: int) -> None:
    name = "Maria Gonzalez" if text.startswith("Dr.") else text.split()[0].rstrip(",")
    name = "Ann" if "Ann" in text else name
    with pytest.raises(ValidationError, match="age must be a number the text states"):
        User.model_validate({"name": name, "age": age}, context=grounding_context(text))
