"""`create_app`: wires settings, logging, routers, middleware and error handlers together."""

from fastapi import FastAPI

from gen_ai_contracts.logs import configure_logging
from gen_ai_on_aws import __version__
from gen_ai_on_aws.api.auth import log_auth_mode
from gen_ai_on_aws.api.error_handlers import install_error_handlers
from gen_ai_on_aws.api.keyring import keyring_for
from gen_ai_on_aws.api.lifespan import lifespan
from gen_ai_on_aws.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from gen_ai_on_aws.api.openapi import auth_aware_openapi
from gen_ai_on_aws.api.routes import batch, extraction, health, jobs, tasks
from gen_ai_on_aws.config import get_settings
from gen_ai_on_aws.logs import logger

DESCRIPTION = """\
Run LLM jobs asynchronously: submit any task of `GET /tasks` to `POST /jobs` (optionally naming
the model), or up to 100 at once to `POST /jobs/batch`, then poll the job or be called back
(`callback_url`, signed per Standard Webhooks). A queued job can be cancelled. Submissions accept
an `Idempotency-Key` (Stripe's semantics), so retrying one never creates a second job.
`extract_user` (free text to a structured `User`) also has its own endpoints, synchronous and
queued.

Errors always have the body `{error, code, request_id, details}`; `code` is stable.
"""


def create_app() -> FastAPI:
    """Build the app; loading the settings here makes bad configuration fail at start-up.
    litellm and instructor are not imported unless LLM_PREWARM is true (see
    `routes.extraction`)."""
    settings = get_settings()
    configure_logging(logger, settings.log_level)
    log_auth_mode(settings)
    keyring_for(settings)  # the keys in force from now on (re-read later: `api.keyring`)
    app = FastAPI(
        title="gen-ai-on-aws",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(extraction.router)
    app.include_router(batch.router)
    app.include_router(jobs.router)
    app.include_router(tasks.router)
    if settings.llm_prewarm:
        extraction.prewarm_llm(settings)
    # Added last = outermost: the request id exists before the size check answers 413.
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    app.openapi = auth_aware_openapi(app)  # type: ignore[method-assign]
    return app
