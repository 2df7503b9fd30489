"""The Pulumi program run under mocks: each function's policy documents, its log group, its SQS
event sources, and every resource's ARN, as the proof needs them.

The mocks give each resource the ARN AWS would (the resource type's template from the IAM
database) with its Pulumi logical name as its physical name (``jobs-high-queue``, table
``llm-state``), so a policy's Resource maps back to the logical resource it names.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml  # type: ignore[import-untyped]

from provisioning.iam_proof.actions import ResourceType, resource_type
from provisioning.packaging.archive import sha256_of
from provisioning.packaging.manifest import PackageEntry
from provisioning.stack.program import deploy

PROJECT = "gen-ai-on-aws"
PROVISIONING_DIR = Path(__file__).resolve().parents[2]
PARTITION, ACCOUNT, REGION = "aws", "123456789012", "us-east-1"
# Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
SECRET_SUFFIX = "-AbCdEf"  # noqa: S105 - not a password

# Pulumi type -> (IAM prefix, resource type) whose ARN template names such a resource.
ARN_TYPES: dict[str, tuple[str, str]] = {
    "aws:sqs/queue:Queue": ("sqs", "queue"),
    "aws:dynamodb/table:Table": ("dynamodb", "table"),
    "aws:secretsmanager/secret:Secret": ("secretsmanager", "Secret"),
    "aws:cloudwatch/logGroup:LogGroup": ("logs", "log-group"),
    "aws:lambda/function:Function": ("lambda", "function"),
    "aws:iam/role:Role": ("iam", "role"),
}
FUNCTION_TYPE = "aws:lambda/function:Function"
ROLE_POLICY_TYPE = "aws:iam/rolePolicy:RolePolicy"
EVENT_SOURCE_TYPE = "aws:lambda/eventSourceMapping:EventSourceMapping"
ALIAS_TYPE = "aws:lambda/alias:Alias"
# Policies a role can get besides inline ones: the proof would not see them, so none may exist.
UNSUPPORTED_POLICY_TYPES = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/rolePoliciesExclusive:RolePoliciesExclusive",
)


@dataclass(frozen=True)
class StackResource:
    typ: str  # the Pulumi type, e.g. "aws:sqs/queue:Queue"
    logical_name: str  # the Pulumi resource name, e.g. "jobs-high-queue"
    arn: str
    name: str  # the physical name (queue, table, log group name ...)
    inputs: dict[str, Any]

    @property
    def logical_id(self) -> str:
        """Unique in the stack (a name alone is not: ``jobs`` is a table and a component)."""
        return logical_id(self.typ, self.logical_name)


def logical_id(typ: str, logical_name: str) -> str:
    """``sqs/queue:jobs-high-queue``, ``dynamodb/table:jobs``, ``secretsmanager/secret:...``."""
    short = typ.split(":")[1] if typ.startswith("aws:") else typ
    return f"{short}:{logical_name}"


@dataclass(frozen=True)
class FunctionGrants:
    """What one Lambda function may do, and what AWS does with its role on its behalf."""

    function: str  # the Pulumi function name: api, worker, callbacks, settler
    policies: dict[str, dict[str, Any]]  # inline policy name -> document
    log_group: str  # the log group's name
    event_source_arns: tuple[str, ...]  # the queues its SQS event source mappings read


@dataclass(frozen=True)
class StackModel:
    stack: str
    resources: dict[str, StackResource]  # by logical id
    functions: dict[str, FunctionGrants] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[StackResource]:
        return [resource for resource in self.resources.values() if resource.typ == typ]


def arn_for(typ: str, name: str) -> str:
    """The ARN AWS gives a resource of Pulumi type ``typ`` named ``name``."""
    prefix, type_name = ARN_TYPES.get(typ, ("", ""))
    if not prefix:
        service = typ.split(":")[1].split("/")[0]
        return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{typ.split(':')[-1].lower()}/{name}"
    template = resource_type(prefix, type_name)
    physical = name + SECRET_SUFFIX if prefix == "secretsmanager" else name
    return _fill(template, physical)


def _fill(template: ResourceType, name: str) -> str:
    """Partition, region and account as the mocks use them; every other variable is ``name``."""
    standard = {"Partition": PARTITION, "Region": REGION, "Account": ACCOUNT}
    return template.arn(**{v: standard.get(v, name) for v in template.variables()})


class ProofMocks(pulumi.runtime.Mocks):
    """Outputs as AWS would return them, keeping every resource by its logical name."""

    def __init__(self) -> None:
        self.created: list[StackResource] = []

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        name = str(args.inputs.get("name") or args.name)
        arn = arn_for(args.typ, name)
        outputs: dict[str, Any] = {"name": name, "arn": arn, **args.inputs}
        if args.typ == "aws:sqs/queue:Queue":
            outputs["url"] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        elif args.typ == FUNCTION_TYPE:
            outputs["invokeArn"] = f"arn:aws:apigateway:{REGION}:lambda:path/functions/{arn}"
            outputs["version"] = "1"
        elif args.typ == ALIAS_TYPE:
            function = outputs["functionName"]
            outputs["arn"] = f"{arn_for(FUNCTION_TYPE, function)}:{name}"
        elif args.typ == "aws:apigatewayv2/api:Api":
            outputs["executionArn"] = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{args.name}-id"
        elif args.typ == "aws:apigatewayv2/stage:Stage":
            outputs["invokeUrl"] = f"https://{args.name}.execute-api.{REGION}.amazonaws.com/"
        resource = StackResource(
            typ=args.typ, logical_name=args.name, arn=outputs["arn"], name=name, inputs=args.inputs
        )
        self.created.append(resource)
        return f"{args.name}-id", outputs

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":  # noqa: S105
            identity = {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/proof"}
            return {**identity, "userId": "proof"}, []
        raise NotImplementedError(args.token)


def stack_config(stack: str, overrides: Mapping[str, str], manifest: Path) -> dict[str, str]:
    """``provisioning/Pulumi.<stack>.yaml`` as Pulumi passes it, the fake packages, overrides."""
    document = yaml.safe_load((PROVISIONING_DIR / f"Pulumi.{stack}.yaml").read_text("utf-8"))
    config = {
        key: json.dumps(value) if isinstance(value, list | dict) else str(value)
        for key, value in document["config"].items()
    }
    config[f"{PROJECT}:packageManifest"] = str(manifest)
    config[f"{PROJECT}:buildPackages"] = "false"
    config.update({f"{PROJECT}:{key}": value for key, value in overrides.items()})
    return config


def write_fake_packages(directory: Path, config: Mapping[str, str]) -> Path:
    """A manifest of two tiny zips for the stack's platform: the policies do not depend on them."""
    architecture = config.get(f"{PROJECT}:architecture", "arm64")
    python_version = config.get(f"{PROJECT}:pythonVersion", "3.12")
    entries = {}
    for function in ("api", "worker"):
        path = directory / f"{function}-fake.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("placeholder.py", "")
        entry = PackageEntry(
            function=function,
            file=path.name,
            sha256=sha256_of(path),
            unzipped_bytes=1,
            zipped_bytes=path.stat().st_size,
            architecture=architecture,
            python_version=python_version,
            handler="unused",
        )
        entries[function] = asdict(entry)
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps({"functions": entries}), encoding="utf-8")
    return manifest


def export_stack(stack: str = "dev", **overrides: str) -> StackModel:
    """Run the program for ``stack`` (its YAML config plus ``<project>:<key>`` overrides)."""
    with tempfile.TemporaryDirectory(prefix="iam-proof-") as scratch:
        manifest_config = stack_config(stack, overrides, Path(scratch) / "manifest.json")
        write_fake_packages(Path(scratch), manifest_config)
        mocks = _run(stack, manifest_config)
    return _model(stack, mocks.created)


def _run(stack: str, config: dict[str, str]) -> ProofMocks:
    ensure_main_thread_loop()
    mocks = ProofMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config(config)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[Any]:
        return pulumi.Output.from_input(deploy()).apply(lambda _: None)

    try:
        program()
    finally:
        pulumi.runtime.set_all_config({})
    return mocks


def ensure_main_thread_loop() -> None:
    """Pulumi's mocks run on the main thread's current loop; code run before (asyncio.run,
    anyio) may have closed or unset it."""
    policy = asyncio.get_event_loop_policy()
    try:
        loop = policy.get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        policy.set_event_loop(policy.new_event_loop())


def _model(stack: str, created: list[StackResource]) -> StackModel:
    unsupported = [r.logical_id for r in created if r.typ in UNSUPPORTED_POLICY_TYPES]
    if unsupported:
        raise ValueError(
            f"managed policy attachments are not evaluated by the proof: {unsupported}"
        )
    resources = {resource.logical_id: resource for resource in created}
    if len(resources) < len(created):
        raise ValueError("two resources share a type and a name: the proof cannot tell them apart")
    by_arn = {resource.arn: resource for resource in resources.values()}
    by_name = {(r.typ, r.name): r for r in resources.values()}
    role_of_id = {f"{r.logical_name}-id": r.logical_id for r in resources.values()}
    functions = {}
    for function in (r for r in resources.values() if r.typ == FUNCTION_TYPE):
        role = by_arn[function.inputs["role"]].logical_id
        policies = {
            policy.logical_name: json.loads(policy.inputs["policy"])
            for policy in resources.values()
            if policy.typ == ROLE_POLICY_TYPE and role_of_id.get(policy.inputs["role"]) == role
        }
        sources = tuple(
            mapping.inputs["eventSourceArn"]
            for mapping in resources.values()
            if mapping.typ == EVENT_SOURCE_TYPE
            and _target_function(mapping.inputs["functionName"], by_arn, by_name) == function
        )
        functions[function.logical_name] = FunctionGrants(
            function=function.logical_name,
            policies=policies,
            log_group=function.inputs["loggingConfig"]["logGroup"],
            event_source_arns=sources,
        )
    return StackModel(stack=stack, resources=resources, functions=functions)


def _target_function(
    target: str,
    by_arn: Mapping[str, StackResource],
    by_name: Mapping[tuple[str, str], StackResource],
) -> StackResource | None:
    """An event source mapping's function: named by its ARN, or by an alias of it."""
    resource = by_arn.get(target) or by_name.get((FUNCTION_TYPE, target))
    if resource is not None and resource.typ == ALIAS_TYPE:
        return by_name.get((FUNCTION_TYPE, resource.inputs["functionName"]))
    return resource
