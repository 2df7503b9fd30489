"""`User`: the output of the `extract_user` task, validated before anyone sees it."""

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints


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
