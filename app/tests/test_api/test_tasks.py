"""GET /tasks: the registry, with each task's input and result JSON schemas."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gen_ai_contracts.tasks.complete import CompleteRequest, Completion
from gen_ai_contracts.tasks.extract_user import ExtractUserRequest, User


def test_lists_every_task_with_its_schemas(offline_client: TestClient) -> None:
    response = offline_client.get("/tasks")

    assert response.status_code == 200
    tasks = {task["name"]: task for task in response.json()["tasks"]}
    assert list(tasks) == ["complete", "extract_user"]
    assert tasks["complete"]["input_schema"] == CompleteRequest.model_json_schema()
    assert tasks["complete"]["result_schema"] == Completion.model_json_schema(mode="serialization")
    assert tasks["extract_user"]["input_schema"] == ExtractUserRequest.model_json_schema()
    assert tasks["extract_user"]["result_schema"] == User.model_json_schema(mode="serialization")
    assert all(
        set(task) == {"name", "description", "input_schema", "result_schema"}
        for task in tasks.values()
    )
    assert all(task["description"] for task in tasks.values())


def test_input_schemas_carry_the_limits_clients_must_respect(offline_client: TestClient) -> None:
    tasks = {task["name"]: task for task in offline_client.get("/tasks").json()["tasks"]}

    prompt = tasks["complete"]["input_schema"]["properties"]["prompt"]
    assert (prompt["minLength"], prompt["maxLength"]) == (1, 20_000)
    assert tasks["complete"]["input_schema"]["required"] == ["prompt"]
    assert tasks["extract_user"]["input_schema"]["additionalProperties"] is False


def test_needs_no_aws_call_and_no_json_body(offline_client: TestClient) -> None:
    # offline_client points AWS at a closed port: a call would fail the request.
    response = offline_client.get("/tasks", headers={"Content-Type": "text/plain"})

    assert response.status_code == 200
