"""The app secret for `admin keys`: one Secrets Manager secret holding a JSON object of sensitive
settings (`LLM_API_KEY`, `API_KEYS`, ...), read and written whole.

Only `API_KEYS` is changed; every other key goes back as it was read. Nothing here prints or
logs a value: errors name the secret and the problem, never its content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gen_ai_jobs.cli._common import EXIT_FAILED, EXIT_USAGE
from gen_ai_jobs.cli.admin._aws import AdminError, AwsSession, aws_errors, error_code

API_KEYS = "API_KEYS"
_TARGET_HINT = "check --prefix, --stack-outputs, --secret-id, --endpoint-url and --region"


@dataclass
class AppSecret:
    """The secret's JSON object as read; ``exists`` False: not created yet (the devstack)."""

    name: str
    values: dict[str, Any] = field(repr=False)
    exists: bool = True

    @property
    def api_keys_name(self) -> str:
        """The secret's own spelling of `API_KEYS`: the settings read names case-insensitively,
        so a lower-case `api_keys` is the same setting and must be the one updated."""
        names = [name for name in self.values if name.upper() == API_KEYS]
        if len(names) > 1:
            raise AdminError(
                f"the app secret {self.name!r} has {API_KEYS} more than once (as"
                f" {', '.join(sorted(names))}): keep one, then run this again"
            )
        return names[0] if names else API_KEYS

    @property
    def api_keys(self) -> Any:
        """The `API_KEYS` value as stored (absent: None): a string or a JSON list/object."""
        return self.values.get(self.api_keys_name)

    def with_api_keys(self, entries: dict[str, list[str]]) -> dict[str, Any]:
        """The whole object with `API_KEYS` replaced by ``entries`` as a JSON string (the form
        both the environment variable and the secret parse), every other key unchanged."""
        return {**self.values, self.api_keys_name: json.dumps(entries)}


def read_app_secret(session: AwsSession, name: str, *, missing_ok: bool = False) -> AppSecret:
    """The secret's current value. A secret with no value yet (a fresh `pulumi up`) reads as
    `{}`; one that does not exist is exit 2, or an `AppSecret` to create if ``missing_ok``."""
    client = session.client("secretsmanager")
    with aws_errors(session.endpoint_url):
        try:
            response = client.get_secret_value(SecretId=name)
        except Exception as error:
            # The same code means "no such secret" and "no current version": tell them apart.
            if error_code(error) != "ResourceNotFoundException":
                raise
            if _exists(client, name):
                return AppSecret(name, {})
            if missing_ok:
                return AppSecret(name, {}, exists=False)
            raise AdminError(
                f"the app secret {name!r} does not exist ({_TARGET_HINT})", EXIT_USAGE
            ) from None
    return AppSecret(name, _json_object(name, response))


def write_app_secret(session: AwsSession, secret: AppSecret, values: dict[str, Any]) -> None:
    """Store ``values`` as the secret's new current version (creating the secret if it does not
    exist yet). botocore sends an idempotency token, so a retried call adds one version."""
    client = session.client("secretsmanager")
    text = json.dumps(values)
    with aws_errors(session.endpoint_url):
        if not secret.exists:
            try:
                client.create_secret(Name=secret.name, SecretString=text)
                return
            except Exception as error:
                if error_code(error) != "ResourceExistsException":
                    raise
        client.put_secret_value(SecretId=secret.name, SecretString=text)


def _exists(client: Any, name: str) -> bool:
    try:
        client.describe_secret(SecretId=name)
    except Exception as error:
        if error_code(error) == "ResourceNotFoundException":
            return False
        raise
    return True


def _json_object(name: str, response: dict[str, Any]) -> dict[str, Any]:
    """The secret's JSON object; blank reads as `{}`. Errors never quote the value."""
    text = response.get("SecretString")
    if text is None:
        raise AdminError(f"the app secret {name!r} holds binary data, not a JSON object")
    if not text.strip():
        return {}
    try:
        values = json.loads(text)
    except ValueError:
        values = None
    if not isinstance(values, dict):
        raise AdminError(
            f"the app secret {name!r} is not a JSON object (the functions cannot read it"
            " either): fix its value first",
            EXIT_FAILED,
        )
    return values
