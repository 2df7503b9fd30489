"""Runs in a fresh interpreter on the unpacked package: one real instructor + litellm call.

The call goes to a fake OpenAI-compatible server on 127.0.0.1 started here, so the trimmed,
sourceless package is exercised on the path the worker takes at run time, not just at import.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path[:0] = json.loads(sys.argv[1])

COMPLETION = {
    "id": "chatcmpl-smoke",
    "object": "chat.completion",
    "created": 0,
    "model": "smoke",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": '{"name": "Ada", "age": 36}'},
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
}


class FakeOpenAI(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps(COMPLETION).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
threading.Thread(target=server.serve_forever, daemon=True).start()

import instructor  # noqa: E402 - the package path is set up above
import litellm  # noqa: E402
import pydantic  # noqa: E402


class User(pydantic.BaseModel):
    name: str
    age: int


client = instructor.from_litellm(litellm.completion, mode=instructor.Mode.JSON)
user = client.chat.completions.create(
    model="openai/smoke",
    api_base=f"http://127.0.0.1:{server.server_address[1]}/v1",
    api_key="smoke",
    messages=[{"role": "user", "content": "Ada is 36."}],
    response_model=User,
    max_retries=0,
    timeout=10,
)
# Token counting reads tiktoken's bundled cache; with no network it fails if that was trimmed.
tokens = litellm.token_counter(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "Ada is 36."}]
)
server.shutdown()
print(
    json.dumps(
        {
            "user": user.model_dump(),
            "tokens": tokens,
            "litellm_file": litellm.__file__,
            "rust_loaded": "litellm.rust_bridge._native" in sys.modules,
        }
    )
)
