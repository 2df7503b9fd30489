"""Every taggable resource carries project, stack and component tags."""

from __future__ import annotations

import importlib
import inspect
from functools import cache
from pathlib import Path

import pulumi
import pytest

from .harness import PROJECT, StackRunner, write_fake_packages

EXPECTED_COMPONENTS = {
    "queue-worker",
    "http-api",
    "callbacks",
    "settler",
    "data",
    "monitoring",
    "artifacts",
}


@cache
def is_taggable(type_token: str) -> bool:
    """Ask pulumi_aws itself: the resource class for the token accepts a `tags` argument."""
    module_name = type_token.split(":")[1].split("/")[0]
    module = importlib.import_module(
        f"pulumi_aws.{'lambda_' if module_name == 'lambda' else module_name}"
    )
    resources = inspect.getmembers(module, lambda member: isinstance(member, type))
    for _, klass in resources:
        if getattr(klass, "pulumi_type", None) == type_token:
            return "tags" in inspect.signature(klass._internal_init).parameters
    raise AssertionError(f"no pulumi_aws class for {type_token}")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_taggable_resource_has_project_stack_and_component_tags(
    stack_runner: StackRunner, stack: str, tmp_path: Path
) -> None:
    # Packages past the direct-upload limit bring in the artifact bucket and objects too.
    large = write_fake_packages(tmp_path, {"api": 60_000_000, "worker": 60_000_000})
    run = stack_runner(stack, manifest=large)
    aws_resources = [r for r in run.resources if r.typ.startswith("aws:")]
    taggable = [r for r in aws_resources if is_taggable(r.typ)]
    assert len(taggable) >= 15
    components = set()
    for resource in taggable:
        tags = resource.inputs.get("tags")
        assert tags is not None, f"{resource.typ} {resource.name} has no tags"
        assert tags["project"] == PROJECT
        assert tags["stack"] == stack
        components.add(tags["component"])
    assert components == EXPECTED_COMPONENTS


def test_the_taggability_check_recognises_untaggable_types() -> None:
    assert is_taggable("aws:sqs/queue:Queue")
    assert not is_taggable("aws:iam/rolePolicy:RolePolicy")
    assert not is_taggable("aws:apigatewayv2/route:Route")


def test_pulumi_type_tokens_are_where_the_check_looks() -> None:
    import pulumi_aws as aws

    assert getattr(aws.lambda_.Function, "pulumi_type", None) == "aws:lambda/function:Function"
    assert issubclass(aws.lambda_.Function, pulumi.CustomResource)
