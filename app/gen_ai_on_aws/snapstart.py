"""SnapStart: after a restore, the API builds its settings and clients again on first use.

Registered at import by `gen_ai_on_aws.main` (see gen_ai_contracts.snapstart for what a
snapshot freezes). The app object itself is kept: routes, middleware and handlers hold no
connection or credential. Settings are re-read so a rotated secret (API keys) takes effect.
"""

import sys

from gen_ai_contracts import snapstart
from gen_ai_on_aws.config import get_settings
from gen_ai_on_aws.services.aws import (
    create_dynamodb_client,
    create_secrets_client,
    create_sqs_client,
)


def reset_after_restore() -> None:
    """Clear every cache that holds settings, an AWS client or an HTTP pool."""
    snapstart.reset_process_state()
    get_settings.cache_clear()
    create_sqs_client.cache_clear()
    create_dynamodb_client.cache_clear()
    create_secrets_client.cache_clear()
    # Loaded only once a route needs them; caches keyed by (and holding) the old clients.
    # The keyring re-reads the secret with the new settings; the tenant limiter its client.
    for module_name, cached in (
        ("gen_ai_on_aws.api.keyring", "keyring_for"),
        ("gen_ai_on_aws.api.tenant_rate", "_limiter"),
    ):
        module = sys.modules.get(module_name)
        if module is not None:
            getattr(module, cached).cache_clear()
    idempotency = sys.modules.get("gen_ai_on_aws.api.idempotency")
    if idempotency is not None:
        idempotency._template.cache_clear()
    extraction = sys.modules.get("gen_ai_on_aws.services.extraction")
    if extraction is not None:
        extraction.llm_client.cache_clear()


def register() -> None:
    snapstart.register_after_restore(reset_after_restore)
