"""When the server stops (uvicorn in the devstack, a TestClient here), litellm's background
logging task, started on the server's loop by `/extract-user`, is stopped with it instead of
being destroyed pending when the loop closes."""

from __future__ import annotations

import sys

from fastapi.testclient import TestClient

from devstack.resources import StackResources
from gen_ai_on_aws.api.app import create_app


def test_stopping_the_server_stops_litellms_logging_task(api_env: StackResources) -> None:
    with TestClient(create_app()) as client:
        response = client.post("/extract-user", json={"text": "Jason is 25 years old"})
        assert response.status_code == 200
        worker = sys.modules["litellm.litellm_core_utils.logging_worker"].GLOBAL_LOGGING_WORKER
        running = worker._worker_task
        assert running is not None  # started on the server's loop by the LLM call

    assert worker._worker_task is None
    assert running.done()
