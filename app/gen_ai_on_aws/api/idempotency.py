"""Stripe's `Idempotency-Key` on the submission routes, on Powertools' idempotency utility.

The first response to a key (status, body, headers) is saved in the jobs table under
`idempotency#<tenant>#<sha256 of the key>` (never a UUID4, so never a job id) and
replayed, with `Idempotent-Replayed: true`, to every retry with the same key and the same
request. Powertools' persistence layer and config are mutable and hold per-request values (the
scope prefix, the lease), so both are built per request; only the layer's template is shared.
"""

import copy
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any, TypedDict, cast

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel, WithJsonSchema

from gen_ai_on_aws.api.auth import TenantDep
from gen_ai_on_aws.api.deps import DynamoDBDep
from gen_ai_on_aws.api.errors import ApiError
from gen_ai_on_aws.config import Settings, get_settings
from gen_ai_on_aws.logs import logger
from gen_ai_on_aws.models.errors import ErrorDetail
from gen_ai_on_aws.services.aws import DynamoDBClient, describe_aws_error
from gen_ai_on_aws.services.errors import StoreUnavailableError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")

_REUSED = f"This {HEADER} was already used with a different request; use a new key."
_IN_PROGRESS = (
    f"A request with this {HEADER} is still in progress; retry after Retry-After seconds."
)

# How long a request in progress holds its key when the Lambda context cannot say (uvicorn).
LEASE_MS_OUTSIDE_LAMBDA = 60_000


class SavedResponse(TypedDict):
    """A response as saved for replays: the body is the exact JSON text first sent."""

    status_code: int
    body: str
    headers: dict[str, str]


def saved_response(
    status_code: int, body: BaseModel, headers: dict[str, str] | None = None
) -> SavedResponse:
    return {"status_code": status_code, "body": body.model_dump_json(), "headers": headers or {}}


def as_response(saved: SavedResponse) -> Response:
    return Response(
        content=saved["body"],
        status_code=saved["status_code"],
        headers=saved["headers"],
        media_type="application/json",
    )


KeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description=(
            "1 to 255 printable ASCII characters (else 400 `invalid_idempotency_key`). Retrying "
            "with the same key and body replays the first response (`Idempotent-Replayed: "
            "true`) for IDEMPOTENCY_TTL_SECONDS; the same key with another body is 409."
        ),
    ),
    # Documented, not enforced by FastAPI: a bad key is 400 `invalid_idempotency_key`, not 422.
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"}),
]


class Idempotency:
    """Runs a submission at most once per (tenant, Idempotency-Key)."""

    def __init__(
        self,
        *,
        request: Request,
        settings: Settings,
        dynamodb: DynamoDBClient,
        tenant: str,
        key: str | None,
    ) -> None:
        self._key = key
        self._request = request
        self._scope = tenant
        self._ttl_seconds = settings.idempotency_ttl_seconds
        self._table_name = settings.jobs_table_name
        self._dynamodb = dynamodb

    def run(self, *, body: BaseModel, execute: Callable[[], SavedResponse]) -> Response:
        """`execute()`'s response, or the saved one when this key has been answered. `body`
        must already be valid: a request refused by validation saves nothing."""
        if self._key is None:
            return as_response(execute())
        executed: list[SavedResponse] = []

        def first_time(request: dict[str, Any]) -> SavedResponse:
            executed.append(execute())
            return executed[0]

        run_once: Callable[..., SavedResponse] = idempotent_function(
            first_time,
            data_keyword_argument="request",
            # A copy per request: configure() mutates the layer.
            persistence_store=copy.copy(_template(self._table_name, self._dynamodb)),
            config=self._config(),
            key_prefix=f"idempotency#{self._scope}",
        )
        try:
            return as_response(run_once(request=self._fingerprint(body)))
        except IdempotencyValidationError:
            raise ApiError(409, "idempotency_key_reused", _REUSED) from None
        except (IdempotencyAlreadyInProgressError, IdempotencyInconsistentStateError):
            raise ApiError(
                409, "idempotency_key_in_progress", _IN_PROGRESS, headers={"Retry-After": "1"}
            ) from None
        except IdempotencyPersistenceLayerError as exc:
            reason = _store_error(exc)
            if executed:  # the jobs exist; only saving the response for replays failed
                logger.error("could not save the idempotent response", extra={"error": reason})
                return as_response(executed[0])
            raise StoreUnavailableError(f"idempotency record: {reason}") from exc

    def _fingerprint(self, body: BaseModel) -> dict[str, Any]:
        """The key (hashed into the record's id) and what a retry must repeat: the route and
        the body as its model parsed it (key order and spacing do not matter)."""
        route = getattr(self._request.scope.get("route"), "path", self._request.url.path)
        return {
            "key": self._key,
            "request": {
                "route": f"{self._request.method} {route}",
                "body": body.model_dump(mode="json"),
            },
        }

    def _config(self) -> IdempotencyConfig:
        return IdempotencyConfig(
            event_key_jmespath="key",
            payload_validation_jmespath="request",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=self._ttl_seconds,
            hash_function="sha256",
            lambda_context=_lease(self._request),
            response_hook=_mark_replayed,
        )


async def get_idempotency(
    request: Request,
    dynamodb: DynamoDBDep,
    tenant: TenantDep,
    key: KeyHeader = None,
) -> Idempotency:
    """The request's Idempotency-Key guard; 400 `invalid_idempotency_key` for a bad key."""
    if key is not None and not _VALID_KEY.fullmatch(key):
        raise _invalid_key()
    return Idempotency(
        request=request, settings=get_settings(), dynamodb=dynamodb, tenant=tenant, key=key
    )


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]


@lru_cache(maxsize=4)
def _template(table_name: str, client: DynamoDBClient) -> DynamoDBPersistenceLayer:
    """One per table and client: the constructor registers a hook on the client, so it must
    not run per request; requests use copies (configure() mutates the layer)."""
    return DynamoDBPersistenceLayer(
        table_name=table_name,
        boto3_client=client,
        key_attr="job_id",
        expiry_attr="expires_at",  # the table's TTL attribute: DynamoDB removes old keys
        # Not `status` & co.: nothing reading jobs may mistake these records for jobs.
        status_attr="idempotency_status",
        data_attr="idempotency_response",
        validation_key_attr="idempotency_request_hash",
        in_progress_expiry_attr="idempotency_lease_expires_ms",
    )


class _Lease:
    """Stands in for the Lambda context: how long an in-progress record holds its key."""

    def __init__(self, remaining_ms: int) -> None:
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


def _lease(request: Request) -> LambdaContext:
    """Until this invocation ends (Lambda), else LEASE_MS_OUTSIDE_LAMBDA: a request that died
    mid-way (timeout, crash) frees its key then, instead of at the record's expiry."""
    remaining = getattr(request.scope.get("aws.context"), "get_remaining_time_in_millis", None)
    remaining_ms = int(remaining()) if callable(remaining) else LEASE_MS_OUTSIDE_LAMBDA
    return cast(LambdaContext, _Lease(remaining_ms))


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> SavedResponse:
    saved = cast(SavedResponse, response)
    return {**saved, "headers": {**saved["headers"], REPLAYED_HEADER: "true"}}


def _invalid_key() -> ApiError:
    message = f"{HEADER} must be 1 to 255 printable ASCII characters."
    detail = ErrorDetail(field=HEADER, location="header", message=message, type="invalid")
    return ApiError(400, "invalid_idempotency_key", message, details=[detail])


def _store_error(exc: IdempotencyPersistenceLayerError) -> str:
    cause = exc.__cause__
    return describe_aws_error(cause) if isinstance(cause, Exception) else type(exc).__name__
