"""What gets packaged: one Lambda function per workspace member, for one runtime platform."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Architecture = Literal["arm64", "x86_64"]
ARCHITECTURES: tuple[Architecture, ...] = ("arm64", "x86_64")
# Lambda names arm64 what the wheel tags (and uv's --python-platform) call aarch64.
_WHEEL_MACHINE: dict[Architecture, str] = {"arm64": "aarch64", "x86_64": "x86_64"}
# manylinux2014 is not enough: tiktoken ships only manylinux_2_28 wheels, and the
# python3.12+ Lambda runtimes (Amazon Linux 2023, glibc 2.34) can load them.
_MANYLINUX = "manylinux_2_28"


@dataclass(frozen=True)
class Platform:
    """The Lambda runtime a package is built for; bytecode and wheels must both match it."""

    architecture: Architecture
    python_version: str  # "3.12", the Lambda runtime is f"python{python_version}"

    @property
    def uv_python_platform(self) -> str:
        return f"{_WHEEL_MACHINE[self.architecture]}-{_MANYLINUX}"


@dataclass(frozen=True)
class LambdaTarget:
    """A function: the workspace member it is built from and the module its handler lives in."""

    function: str
    member_dir: str
    handler_module: str

    @property
    def handler(self) -> str:
        return f"{self.handler_module}.handler"


TARGETS: dict[str, LambdaTarget] = {
    "api": LambdaTarget(function="api", member_dir="app", handler_module="gen_ai_on_aws.main"),
    "worker": LambdaTarget(function="worker", member_dir="worker", handler_module="worker.main"),
}


@dataclass(frozen=True)
class MemberInfo:
    """The parts of a member's pyproject.toml the build needs."""

    distribution: str
    package_dirs: tuple[Path, ...]


def read_member(workspace: Path, target: LambdaTarget) -> MemberInfo:
    """The member a function is built from."""
    return read_member_at(workspace / target.member_dir)


def read_member_at(member_root: Path) -> MemberInfo:
    """Read the distribution name and package directories from a member's hatch config."""
    pyproject = tomllib.loads((member_root / "pyproject.toml").read_text(encoding="utf-8"))
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    return MemberInfo(
        distribution=pyproject["project"]["name"],
        package_dirs=tuple(member_root / package for package in packages),
    )


def find_workspace_root(start: Path) -> Path:
    """Walk up to the pyproject.toml that declares the uv workspace."""
    for candidate in (start, *start.parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file():
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            if "workspace" in data.get("tool", {}).get("uv", {}):
                return candidate
    raise FileNotFoundError(
        f"no uv workspace root (pyproject.toml with [tool.uv.workspace]) above {start}"
    )
