"""What a package is made from, hashed: the lock, the code of the members it bundles, the builder's
own code and the options that change its bytes. Equal hashes mean a rebuild would change nothing.

Only file contents and paths count (never mtimes or directory order), so a fresh clone, a CI
runner and a developer's checkout of one commit agree on the hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from provisioning.packaging.build import BuildOptions
from provisioning.packaging.install import MEMBER_CODE_IGNORED
from provisioning.packaging.targets import LambdaTarget, read_member_at

LOCK_FILE = "uv.lock"
BUILDER = "builder"
SOURCES_PREFIX = "sources:"
# The packaging modules whose code decides a package's bytes (trim rules, bytecode, zip format).
_BUILDER_MODULES = ("archive", "build", "bytecode", "install", "targets", "trim")
# Bump when what is hashed changes, so records made the old way read as stale.
_FORMAT = 1
_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")

OptionValue = str | int | bool


@dataclass(frozen=True)
class PackageInputs:
    """The hash a manifest entry records, and its parts (to say what changed)."""

    sha256: str
    # "uv.lock", "builder" and "sources:<member dir>" -> SHA-256 of that part.
    parts: dict[str, str]
    options: dict[str, OptionValue]


def package_inputs(workspace: Path, target: LambdaTarget, options: BuildOptions) -> PackageInputs:
    """Hash everything `build_function(target, options)` reads that can change its output."""
    parts = {LOCK_FILE: _file_sha256(workspace / LOCK_FILE), BUILDER: builder_sha256()}
    for member_root in bundled_members(workspace, target):
        name = member_root.relative_to(workspace.resolve()).as_posix()
        parts[SOURCES_PREFIX + name] = member_sha256(member_root)
    output_options = options_that_change_output(options)
    document = {"format": _FORMAT, "parts": parts, "options": output_options}
    combined = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    return PackageInputs(combined, parts, output_options)


def options_that_change_output(options: BuildOptions) -> dict[str, OptionValue]:
    """Not where the zip goes, which interpreter binary compiles (only its version matters), how
    many workers run or the size limit: none of those change the bytes."""
    return {
        "architecture": options.platform.architecture,
        "python_version": options.platform.python_version,
        "bytecode": options.bytecode,
        "sourceless": options.sourceless,
        "drop_aws_sdk": options.drop_aws_sdk,
        "compresslevel": options.compresslevel,
    }


def bundled_members(workspace: Path, target: LambdaTarget) -> tuple[Path, ...]:
    """The target's member and the workspace members it needs at run time, transitively.

    The same set `build_function` copies (it asks `uv export`, about 0.1 s a call); read here
    from the members' pyproject.toml so the up-to-date check stays fast. Extra members would
    only cost a needless rebuild; a test checks both agree.
    """
    members = _workspace_members(workspace)
    start = (workspace / target.member_dir).resolve()
    seen: set[tuple[Path, frozenset[str]]] = set()
    pending: list[tuple[Path, frozenset[str]]] = [(start, frozenset())]
    while pending:
        member = pending.pop()
        if member in seen:
            continue
        seen.add(member)
        root, extras = member
        for name, wanted_extras in _requirements(_pyproject(root), extras):
            if name in members:
                pending.append((members[name], wanted_extras))
    return tuple(sorted({root for root, _ in seen}))


def member_sha256(member_root: Path) -> str:
    """The member's pyproject.toml and every file of its packages that the build copies."""
    files = [member_root / "pyproject.toml"]
    for package_dir in read_member_at(member_root).package_dirs:
        files += _copied_files(package_dir)
    return _files_sha256(member_root, files)


def builder_sha256() -> str:
    here = Path(__file__).parent
    return _files_sha256(here, [here / f"{module}.py" for module in _BUILDER_MODULES])


def _copied_files(package_dir: Path) -> list[Path]:
    """What `install.copy_member_code` copies: everything but the ignored names, at any depth."""
    found = []
    for directory, subdirectories, files in os.walk(package_dir):
        subdirectories[:] = [name for name in subdirectories if not _ignored(name)]
        found += [Path(directory) / name for name in files if not _ignored(name)]
    return found


def _ignored(name: str) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in MEMBER_CODE_IGNORED)


def _files_sha256(root: Path, files: list[Path]) -> str:
    """Paths relative to `root` with their contents' hashes, in sorted order."""
    digest = hashlib.sha256()
    for relative, path in sorted((path.relative_to(root).as_posix(), path) for path in files):
        digest.update(f"{relative}\0{_file_sha256(path)}\n".encode())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _workspace_members(workspace: Path) -> dict[str, Path]:
    """Normalised distribution name -> member root, from `[tool.uv.workspace]`."""
    settings = _pyproject(workspace)["tool"]["uv"]["workspace"]
    excluded = {
        path.resolve()
        for pattern in settings.get("exclude", [])
        for path in workspace.glob(pattern)
    }
    members = {}
    for pattern in settings.get("members", []):
        for root in sorted(workspace.glob(pattern)):
            if (root / "pyproject.toml").is_file() and root.resolve() not in excluded:
                members[_normalise(_pyproject(root)["project"]["name"])] = root.resolve()
    return members


def _requirements(
    pyproject: dict[str, Any], extras: frozenset[str]
) -> list[tuple[str, frozenset[str]]]:
    """(normalised name, extras) of each run-time dependency, with those of the requested extras
    (dependency groups, such as dev, never ship)."""
    project = pyproject.get("project", {})
    optional = project.get("optional-dependencies", {})
    lines = [*project.get("dependencies", [])]
    lines += [line for extra in sorted(extras) for line in optional.get(extra, [])]
    found = []
    for line in lines:
        match = _REQUIREMENT.match(line)
        if match:
            wanted = frozenset(e.strip() for e in (match[2] or "").split(",") if e.strip())
            found.append((_normalise(match[1]), wanted))
    return found


def _pyproject(root: Path) -> dict[str, Any]:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


def _normalise(name: str) -> str:
    """PEP 503 name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()
