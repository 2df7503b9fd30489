"""Run the Pulumi program under mocks with a stack's real config and fake (tiny) packages.

Mocks must be set before the program runs; `deploy()` reads config and creates resources only
when called, so importing the program module early is safe.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml  # type: ignore[import-untyped]

from provisioning.iam_proof.stack import ensure_main_thread_loop
from provisioning.packaging.archive import sha256_of
from provisioning.stack.program import deploy

PROJECT = "gen-ai-on-aws"
PROVISIONING_DIR = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-east-1"


class RecordingMocks(pulumi.runtime.Mocks):
    """Echo inputs as outputs, add the computed ARNs/URLs the program reads, remember everything."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.calls: list[str] = []

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        self.resources.append(args)
        name = args.inputs.get("name") or args.name
        service = args.typ.split(":")[1].split("/")[0]
        outputs = {
            "name": name,
            "arn": f"arn:aws:{service}:{REGION}:{ACCOUNT}:{args.typ.split(':')[-1].lower()}/{name}",
            **args.inputs,
        }
        if args.typ == "aws:sqs/queue:Queue":
            outputs["arn"] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
            outputs["url"] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        elif args.typ == "aws:cloudwatch/logGroup:LogGroup":
            outputs["arn"] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
        elif args.typ == "aws:lambda/function:Function":
            outputs["invokeArn"] = (
                f"arn:aws:apigateway:{REGION}:lambda:path/functions/{outputs['arn']}"
            )
            outputs["version"] = "1"
        elif args.typ == "aws:apigatewayv2/api:Api":
            outputs["executionArn"] = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{args.name}-id"
        elif args.typ == "aws:apigatewayv2/stage:Stage":
            outputs["invokeUrl"] = f"https://{args.name}.execute-api.{REGION}.amazonaws.com/"
        return f"{args.name}-id", outputs

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append(args.token)
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/test",
                "userId": "test",
            }, []
        raise NotImplementedError(args.token)


@dataclass
class StackRun:
    """What one mocked `pulumi up` created."""

    resources: list[pulumi.runtime.MockResourceArgs]
    outputs: dict[str, Any]
    config: dict[str, str]
    calls: list[str] = field(default_factory=list)

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [resource for resource in self.resources if resource.typ == typ]

    def one(self, typ: str, name: str) -> dict[str, Any]:
        matches = [resource.inputs for resource in self.of_type(typ) if resource.name == name]
        assert len(matches) == 1, f"expected one {typ} named {name}, got {len(matches)}"
        return matches[0]

    def function_env(self, name: str) -> dict[str, str]:
        return dict(self.one("aws:lambda/function:Function", name)["environment"]["variables"])


def stack_file_config(stack: str) -> dict[str, str]:
    """The `config:` of provisioning/Pulumi.<stack>.yaml, as Pulumi passes it (strings)."""
    document = yaml.safe_load(
        (PROVISIONING_DIR / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")
    )
    return {
        # Pulumi hands structured values (lists, maps) to the program as JSON strings.
        key: json.dumps(value) if isinstance(value, list | dict) else str(value)
        for key, value in document["config"].items()
    }


def write_fake_packages(directory: Path, size_bytes: dict[str, int] | None = None) -> Path:
    """A manifest whose packages are tiny zips (or sparse files of the given sizes)."""
    functions = {}
    for function in ("api", "worker"):
        path = directory / f"{function}-fake.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("placeholder.py", "")
        if size_bytes and function in size_bytes:
            with path.open("r+b") as stream:
                stream.truncate(size_bytes[function])  # sparse: no real disk use
        functions[function] = {
            "function": function,
            "file": path.name,
            "sha256": sha256_of(path),
            "unzipped_bytes": 1,
            "zipped_bytes": path.stat().st_size,
            "architecture": "arm64",
            "python_version": "3.12",
            "handler": "unused",
        }
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps({"functions": functions}), encoding="utf-8")
    return manifest


def run_stack(stack: str, config: dict[str, str]) -> StackRun:
    """Set mocks and config first (the program reads them when it runs), then run `deploy()`."""
    ensure_main_thread_loop()
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config(config)
    outputs: dict[str, Any] = {}

    def record(resolved: dict[str, Any]) -> None:
        outputs.update(resolved)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[None]:
        return pulumi.Output.from_input(deploy()).apply(record)

    program()
    return StackRun(resources=mocks.resources, outputs=outputs, config=config, calls=mocks.calls)


StackRunner = Callable[..., StackRun]


def policy_statements(run: StackRun, policy_name: str) -> list[dict[str, Any]]:
    document = json.loads(run.one("aws:iam/rolePolicy:RolePolicy", policy_name)["policy"])
    statements: list[dict[str, Any]] = document["Statement"]
    return statements
