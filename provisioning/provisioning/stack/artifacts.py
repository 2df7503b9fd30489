"""Function code from the build manifest: built first when missing or stale (unless the stack
deploys packages built elsewhere), then an inline zip when small, else a managed S3 object."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from provisioning.packaging.build import BuildOptions, build_function
from provisioning.packaging.freshness import Builder, ensure_package
from provisioning.packaging.manifest import PackageEntry, read_manifest
from provisioning.packaging.targets import TARGETS, Platform, find_workspace_root
from provisioning.stack.config import StackConfig
from provisioning.stack.tags import tags_for

# Lambda rejects direct uploads above 50 MB zipped; stay on the safe side of MB vs MiB.
DIRECT_UPLOAD_LIMIT_BYTES = 50_000_000


@dataclass(frozen=True)
class FunctionCode:
    """Keyword arguments for aws.lambda_.Function's code, plus the hash that triggers redeploys."""

    archive: pulumi.FileArchive | None
    s3_bucket: pulumi.Output[str] | None
    s3_key: pulumi.Output[str] | None
    source_code_hash: str


def load_package(
    config: StackConfig, function: str, builder: Builder = build_function
) -> tuple[PackageEntry, Path]:
    """The zip for `function`, built by `builder` first when `builds_packages()` and it is missing
    or stale, then checked against the stack's architecture and runtime."""
    if builds_packages():
        manifest, target = config.package_manifest, TARGETS[function]
        ensure_package(target, build_options(config), manifest, builder, pulumi.log.info)
    rebuild = (
        f"run `uv run build-lambdas --arch {config.architecture} --python {config.python_version}`"
        " (or set buildPackages to true: `pulumi up` then builds them)"
    )
    entry = read_manifest(config.package_manifest).get(function)
    if entry is None:
        raise FileNotFoundError(f"no {function} package in {config.package_manifest}; {rebuild}")
    if (entry.architecture, entry.python_version) != (config.architecture, config.python_version):
        raise ValueError(
            f"{function} package is {entry.architecture}/python{entry.python_version} but the "
            f"stack wants {config.architecture}/python{config.python_version}; {rebuild}"
        )
    path = config.package_manifest.parent / entry.file
    if not path.is_file():
        raise FileNotFoundError(f"{path} listed in the manifest is missing; {rebuild}")
    return entry, path


def builds_packages() -> bool:
    """`buildPackages`; by default on, and off when `packageManifest` names packages built
    elsewhere (CI artifacts, the tests' fakes): those are deployed as they are."""
    settings = pulumi.Config()
    explicit = settings.get_bool("buildPackages")
    return explicit if explicit is not None else settings.get("packageManifest") is None


def build_options(config: StackConfig) -> BuildOptions:
    """The stack's runtime with the default (measured) build settings, like `build-lambdas`.

    Pulumi runs the program in provisioning/, inside the workspace whose code it packages.
    """
    return BuildOptions(
        platform=Platform(architecture=config.architecture, python_version=config.python_version),
        workspace=find_workspace_root(Path.cwd()),
        out_dir=config.package_manifest.parent,
    )


class ArtifactStore:
    """Creates the artifact bucket only once some package is too large to upload inline."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._bucket: aws.s3.Bucket | None = None

    def code_for(self, entry: PackageEntry, path: Path) -> FunctionCode:
        # Lambda wants the base64 of the raw SHA-256, not the hex digest the manifest keeps.
        source_hash = base64.b64encode(bytes.fromhex(entry.sha256)).decode()
        if path.stat().st_size <= DIRECT_UPLOAD_LIMIT_BYTES:
            return FunctionCode(pulumi.FileArchive(str(path)), None, None, source_hash)
        bucket = self._ensure_bucket()
        # The key is the content-hashed file name, so a new build is a new object.
        package = aws.s3.BucketObjectv2(
            f"{self._name}-{entry.function}-package",
            bucket=bucket.id,
            key=f"lambda/{path.name}",
            source=pulumi.FileAsset(str(path)),
            server_side_encryption="AES256",
            tags=tags_for("artifacts"),
            opts=pulumi.ResourceOptions(parent=bucket),
        )
        return FunctionCode(None, package.bucket, package.key, source_hash)

    def _ensure_bucket(self) -> aws.s3.Bucket:
        if self._bucket is None:
            self._bucket = _private_bucket(self._name)
        return self._bucket


def _private_bucket(name: str) -> aws.s3.Bucket:
    # force_destroy: the bucket only holds rebuildable packages; teardown must not stall on them.
    bucket = aws.s3.Bucket(name, force_destroy=True, tags=tags_for("artifacts"))
    child = pulumi.ResourceOptions(parent=bucket)
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                )
            )
        ],
        opts=child,
    )
    aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access-block",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    return bucket
