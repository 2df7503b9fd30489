"""Task schemas: what `GET /tasks` lists for each task of the registry."""

from typing import Annotated, Any

from pydantic import BaseModel, Field


class TaskPublic(BaseModel):
    """One task: submit it to POST /jobs with an `input` matching `input_schema`."""

    name: str
    description: str
    input_schema: Annotated[dict[str, Any], Field(description="JSON Schema of the input.")]
    result_schema: Annotated[dict[str, Any], Field(description="JSON Schema of the job result.")]


class TaskList(BaseModel):
    """Every task this deployment runs."""

    tasks: list[TaskPublic]
