"""Task ``extract_user``: free text in, a validated ``User`` out."""

from __future__ import annotations

from worker.models.extract_user import ExtractUserRequest, User, grounding_context
from worker.tasks.base import StructuredLlm, Task

# Few-shot examples sit inside the system message: small models (SmolLM2-135M) follow them far
# better than instructions alone, and the user message stays exactly the text to read.
# Same prompt as the API's synchronous endpoint (tests/test_contract.py checks it).
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


def build_messages(request: ExtractUserRequest) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": request.text},
    ]


async def run(request: ExtractUserRequest, llm: StructuredLlm) -> User:
    # The context reaches User's validators: name and email must occur in the text (grounding).
    return await llm.structured(
        messages=build_messages(request),
        response_model=User,
        context=grounding_context(request.text),
    )


TASK = Task(name="extract_user", request_model=ExtractUserRequest, run=run)
