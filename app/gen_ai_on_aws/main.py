"""Entry points: `app` for uvicorn (devstack) and `handler` for AWS Lambda.

Built at import, i.e. once per cold start: a missing or invalid setting fails the cold start
with a `ConfigurationError` naming the variable, instead of failing requests later.
"""

from mangum import Mangum

from gen_ai_on_aws import snapstart
from gen_ai_on_aws.api.app import create_app
from gen_ai_on_aws.logs import logger

snapstart.register()  # SnapStart: fresh settings and clients after a restore
app = create_app()

# Mangum serves API Gateway HTTP API (payload v2), REST API (v1) and Function URL events.
# lifespan="off": the app has no startup work beyond create_app, so skip it per invocation.
# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: the event's body is the user's text.
handler = logger.inject_lambda_context(
    Mangum(app, lifespan="off"), clear_state=True, log_event=False
)
