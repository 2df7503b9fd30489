"""A job cancelled through the API (POST /jobs/{id}/cancel) is never run: its message is
acknowledged without calling the LLM, and the record stays `cancelled`."""

from __future__ import annotations

import uuid
from typing import Any

JASON = "Jason is 25 years old"


def test_a_cancelled_jobs_message_is_acknowledged_without_calling_the_llm(harness: Any) -> None:
    # GIVEN a job the client cancelled while its message was still in the queue
    job_id = str(uuid.uuid4())
    harness.put_job(job_id, status="cancelled")
    record = harness.deliver(harness.body(JASON, job_id=job_id))

    # WHEN Lambda delivers the message
    response = harness.invoke(record)

    # THEN it is acknowledged (not retried), the LLM is never asked, and the job stays cancelled
    assert response == {"batchItemFailures": []}
    assert harness.calls(JASON) == 0
    stored = harness.job(job_id)
    assert stored["status"] == "cancelled"
    assert stored["attempts"] == 0
    assert "result" not in stored
