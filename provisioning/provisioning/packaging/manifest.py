"""The build manifest: the hand-off from `build-lambdas` to the Pulumi program."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class PackageEntry:
    """One built function package; `file` is relative to the manifest's directory."""

    function: str
    file: str
    sha256: str
    unzipped_bytes: int
    zipped_bytes: int
    architecture: str
    python_version: str
    handler: str
    # What the package was built from (inputs.py): "" for packages built without it (an older
    # build-lambdas, a hand-made manifest), which `pulumi up` therefore rebuilds.
    inputs_sha256: str = ""
    # The parts of that hash and the build options, to say what changed.
    inputs: dict[str, str] = field(default_factory=dict)
    build_options: dict[str, str | int | bool] = field(default_factory=dict)


def read_manifest(path: Path) -> dict[str, PackageEntry]:
    """Entries by function name; a missing file means nothing was built yet."""
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {name: PackageEntry(**entry) for name, entry in raw["functions"].items()}


def update_manifest(path: Path, entries: list[PackageEntry]) -> dict[str, PackageEntry]:
    """Merge new entries (building one function keeps the other's) and drop unreferenced zips."""
    merged = read_manifest(path) | {entry.function: entry for entry in entries}
    body = {"functions": {name: asdict(entry) for name, entry in sorted(merged.items())}}
    # Written aside then renamed: an interrupted `pulumi up` never leaves half a manifest.
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, path)
    referenced = {entry.file for entry in merged.values()}
    for function in merged:
        for stale in path.parent.glob(f"{function}-*.zip"):
            if stale.name not in referenced:
                stale.unlink()
    return merged
