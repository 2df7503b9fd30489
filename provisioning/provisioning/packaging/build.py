"""Build one function's zip: install, copy (with the workspace code it uses), trim, compile,
check the size, archive."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from provisioning.packaging import bytecode, install
from provisioning.packaging.archive import ArchiveInfo, tree_size, write_zip
from provisioning.packaging.targets import LambdaTarget, Platform, read_member
from provisioning.packaging.trim import AWS_SDK_RULE, SAFE_RULES, apply_trim

MB = 1024 * 1024
# Lambda's hard limit for function code plus layers, unzipped.
LAMBDA_UNZIPPED_LIMIT = 250 * MB


class PackageTooLargeError(RuntimeError):
    """The unzipped package would not deploy."""


@dataclass(frozen=True)
class BuildOptions:
    """How to build; the defaults are the measured best trade (see provisioning/README.md)."""

    platform: Platform
    workspace: Path
    out_dir: Path
    bytecode: bool = True
    sourceless: bool = True
    drop_aws_sdk: bool = True
    interpreter: str | None = None
    compresslevel: int = 9
    max_unzipped_bytes: int = LAMBDA_UNZIPPED_LIMIT
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)


@dataclass(frozen=True)
class BuildResult:
    """What was built and where the bytes went."""

    target: LambdaTarget
    platform: Platform
    archive: ArchiveInfo
    installed_bytes: int
    trimmed_bytes: dict[str, int]
    bytecode_bytes: int
    source_removed_bytes: int
    seconds: float


def build_function(target: LambdaTarget, options: BuildOptions) -> BuildResult:
    """Build `<out_dir>/<function>-<sha256 prefix>.zip` for the target platform."""
    started = time.monotonic()
    member = read_member(options.workspace, target)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"lambda-{target.function}-") as scratch:
        staging = Path(scratch) / "package"
        requirements = install.export_requirements(options.workspace, member)
        install.install_dependencies(requirements, staging, options.platform)
        installed = tree_size(staging)
        # The member's code and that of the workspace members it imports (the contracts).
        own_code = (member, *install.workspace_dependencies(options.workspace, member))
        for code in own_code:
            install.copy_member_code(code, staging)
        rules = (*SAFE_RULES, AWS_SDK_RULE) if options.drop_aws_sdk else SAFE_RULES
        trimmed = apply_trim(staging, rules)
        before_bytecode = tree_size(staging)
        source_removed = 0
        if options.bytecode:
            interpreter = bytecode.find_interpreter(
                options.platform.python_version, options.interpreter
            )
            bytecode.compile_tree(interpreter, staging, options.workers)
            if options.sourceless:
                own = frozenset(path.name for code in own_code for path in code.package_dirs)
                source_removed = bytecode.make_sourceless(
                    staging, third_party_names(staging) - own, options.platform.python_version
                )
        unzipped = tree_size(staging)
        if unzipped > options.max_unzipped_bytes:
            raise PackageTooLargeError(
                f"{target.function}: {unzipped / MB:.1f} MB unzipped exceeds "
                f"{options.max_unzipped_bytes / MB:.0f} MB; add a trim rule or drop a dependency"
            )
        archive = write_zip(staging, Path(scratch) / "package.zip", options.compresslevel)
        final = options.out_dir / f"{target.function}-{archive.sha256[:16]}.zip"
        shutil.move(archive.path, final)
    return BuildResult(
        target=target,
        platform=options.platform,
        archive=ArchiveInfo(
            final, archive.sha256, archive.unzipped_bytes, archive.zipped_bytes, archive.file_count
        ),
        installed_bytes=installed,
        trimmed_bytes=trimmed,
        bytecode_bytes=unzipped - before_bytecode + source_removed,
        source_removed_bytes=source_removed,
        seconds=time.monotonic() - started,
    )


def third_party_names(staging: Path) -> frozenset[str]:
    """Top-level import names installed from wheels (packages and single-file modules)."""
    names: set[str] = set()
    for entry in staging.iterdir():
        if (
            entry.is_dir()
            and not entry.name.endswith((".dist-info", ".data"))
            and entry.name != "__pycache__"
        ):
            names.add(entry.name)
        elif entry.suffix == ".py":
            names.add(entry.stem)
    return frozenset(names)
