"""Install a member's locked dependencies, its code and that of the workspace members it uses
(the contracts) into a staging directory with uv."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from provisioning.packaging.targets import MemberInfo, Platform, read_member_at

# Names (at any depth of a member's package directories) never copied into a package; the
# input hash (inputs.py) skips the same ones, so editing a test or a cache rebuilds nothing.
MEMBER_CODE_IGNORED = ("__pycache__", "*.pyc", "tests", ".*")


def uv_executable() -> str:
    """The uv binary: the one running us under `uv run` (it exports UV), else the one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        raise FileNotFoundError(
            "uv is required to build Lambda packages: https://docs.astral.sh/uv/"
        )
    return found


def export_requirements(workspace: Path, member: MemberInfo) -> str:
    """Pinned third-party requirements of one member and of the workspace members it depends
    on, exactly as in uv.lock; the workspace members' own code is copied (`copy_member_code`)."""
    exported = _export(workspace, member, "--no-emit-workspace")
    local = _local_paths(exported)
    if local:
        raise ValueError(
            f"{member.distribution} depends on local paths {local} outside the workspace; "
            "make them workspace members (their code is then bundled) or publish them."
        )
    return exported


def workspace_dependencies(workspace: Path, member: MemberInfo) -> tuple[MemberInfo, ...]:
    """The workspace members `member` needs at run time (e.g. the contracts), direct or not."""
    members = []
    for path in _local_paths(_export(workspace, member)):
        root = (workspace / path).resolve()
        if not root.is_relative_to(workspace.resolve()):
            raise ValueError(f"{member.distribution} depends on {path}, outside the workspace")
        members.append(read_member_at(root))
    return tuple(members)


def _export(workspace: Path, member: MemberInfo, *extra: str) -> str:
    command = [
        uv_executable(),
        "export",
        "--package",
        member.distribution,
        "--frozen",  # the lock is the contract; never re-resolve during a build
        "--no-dev",
        "--no-editable",
        "--no-hashes",
        "--no-emit-project",  # the member's own code is copied, not built as a wheel
        "--no-header",
        "--no-annotate",
        *extra,
    ]
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        command, cwd=workspace, check=True, capture_output=True, text=True
    ).stdout


def _local_paths(exported: str) -> list[str]:
    """The path requirements (`./contracts`, `-e ./x ; marker`) of an exported file."""
    paths = []
    for line in exported.splitlines():
        requirement = line.split(";", 1)[0].strip().removeprefix("-e").strip()
        if requirement.startswith((".", "/")):
            paths.append(requirement)
    return paths


def install_dependencies(requirements: str, staging: Path, platform: Platform) -> None:
    """Install wheels for the Lambda platform (never the build machine's) into `staging`."""
    requirements_file = staging.parent / f"{staging.name}-requirements.txt"
    requirements_file.write_text(requirements, encoding="utf-8")
    command = [
        uv_executable(),
        "pip",
        "install",
        "--quiet",
        "--no-deps",  # the exported file is already the full resolution; do not re-resolve
        "--target",
        str(staging),
        "--python-platform",
        platform.uv_python_platform,
        "--python-version",
        platform.python_version,
        "--only-binary",
        ":all:",  # no sdist builds: they would run on this machine's platform
        "--no-compile",  # bytecode is compiled later, by an interpreter matching the runtime
        "-r",
        str(requirements_file),
    ]
    subprocess.run(command, check=True)  # noqa: S603 - fixed argv, no shell
    requirements_file.unlink()


def copy_member_code(member: MemberInfo, staging: Path) -> None:
    """Copy the member's packages as plain sources, without caches or tests."""
    for package_dir in member.package_dirs:
        if (staging / package_dir.name).exists():
            raise FileExistsError(
                f"{member.distribution}: {package_dir.name}/ is already in the package (a "
                "dependency or another member ships the same import name); rename one of them"
            )
        shutil.copytree(
            package_dir,
            staging / package_dir.name,
            ignore=shutil.ignore_patterns(*MEMBER_CODE_IGNORED),
        )
