"""`GET /tasks`: every task of the registry, with the JSON schemas of its input and result."""

from functools import lru_cache

from fastapi import APIRouter, Depends

from gen_ai_contracts.tasks import TASKS
from gen_ai_on_aws.api.auth import authenticate
from gen_ai_on_aws.api.errors import error_responses
from gen_ai_on_aws.models.tasks import TaskList, TaskPublic

router = APIRouter(prefix="/tasks", tags=["tasks"], dependencies=[Depends(authenticate)])


@router.get(
    "",
    summary="List the tasks POST /jobs accepts, with their input and result schemas",
    responses=error_responses(401, 429, 500, 503),
)
async def list_tasks() -> TaskList:
    return task_list()


@lru_cache(maxsize=1)
def task_list() -> TaskList:
    """Built once: the registry is fixed for the life of the process."""
    return TaskList(
        tasks=[
            TaskPublic(
                name=task.name,
                description=task.description,
                input_schema=task.input_model.model_json_schema(),
                result_schema=task.result_model.model_json_schema(mode="serialization"),
            )
            for task in sorted(TASKS.values(), key=lambda task: task.name)
        ]
    )
