"""Build a function's package only when it is missing or was built from other inputs, and record
what it was built from, so that `pulumi up` alone deploys current code and reuses a current zip.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path

from provisioning.packaging.build import MB, BuildOptions, BuildResult, build_function
from provisioning.packaging.inputs import (
    BUILDER,
    LOCK_FILE,
    SOURCES_PREFIX,
    PackageInputs,
    package_inputs,
)
from provisioning.packaging.manifest import PackageEntry, read_manifest, update_manifest
from provisioning.packaging.targets import LambdaTarget

Builder = Callable[[LambdaTarget, BuildOptions], BuildResult]
Report = Callable[[str], None]


def report_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_package(
    target: LambdaTarget,
    options: BuildOptions,
    manifest: Path,
    builder: Builder = build_function,
    report: Report = report_to_stderr,
) -> PackageEntry:
    """The manifest's entry for `target`, built first (into the manifest's directory) when stale."""
    started = time.perf_counter()
    options = dataclasses.replace(options, out_dir=manifest.parent)
    # Hashed before building: a file edited during the build leaves the record stale, not wrong.
    inputs = package_inputs(options.workspace, target, options)
    entry = read_manifest(manifest).get(target.function)
    reason = stale_reason(entry, inputs, manifest.parent)
    if entry is not None and reason is None:
        checked_ms = (time.perf_counter() - started) * 1000
        report(
            f"{target.function} package up to date: {entry.file} (checked in {checked_ms:.0f} ms)"
        )
        return entry
    report(f"building {target.function} ({reason})")
    built = manifest_entry(builder(target, options), manifest.parent, inputs)
    update_manifest(manifest, [built])
    report(
        f"built {target.function} ({built.architecture}, python{built.python_version}): "
        f"{built.zipped_bytes / MB:.1f} MB zipped, {built.unzipped_bytes / MB:.1f} MB unzipped "
        f"in {time.perf_counter() - started:.0f} s -> {manifest.parent / built.file}"
    )
    return built


def stale_reason(entry: PackageEntry | None, inputs: PackageInputs, out_dir: Path) -> str | None:
    """Why the recorded package cannot be reused, or None when it can."""
    if entry is None:
        return "not built yet"
    if not (out_dir / entry.file).is_file():
        return f"{entry.file} is missing"
    if not entry.inputs_sha256:
        return "built without an input hash, by an older build-lambdas or by hand"
    if entry.inputs_sha256 == inputs.sha256:
        return None
    return "; ".join(_changes(entry, inputs)) or "the way inputs are hashed changed"


def _changes(entry: PackageEntry, inputs: PackageInputs) -> list[str]:
    names = sorted(entry.inputs.keys() | inputs.parts.keys())
    changed = [name for name in names if entry.inputs.get(name) != inputs.parts.get(name)]
    sources = [
        name.removeprefix(SOURCES_PREFIX) for name in changed if name.startswith(SOURCES_PREFIX)
    ]
    reasons = [f"{LOCK_FILE} changed"] if LOCK_FILE in changed else []
    if sources:
        reasons.append(f"sources changed: {', '.join(sources)}")
    if BUILDER in changed:
        reasons.append("packaging code changed")
    options = sorted(entry.build_options.keys() | inputs.options.keys())
    changed_options = [
        f"{name} {entry.build_options.get(name)} -> {inputs.options.get(name)}"
        for name in options
        if entry.build_options.get(name) != inputs.options.get(name)
    ]
    if changed_options:
        reasons.append(f"build options changed: {', '.join(changed_options)}")
    return reasons


def manifest_entry(result: BuildResult, out_dir: Path, inputs: PackageInputs) -> PackageEntry:
    """The record of a build, with what it was built from."""
    return PackageEntry(
        function=result.target.function,
        file=result.archive.path.relative_to(out_dir).as_posix(),
        sha256=result.archive.sha256,
        unzipped_bytes=result.archive.unzipped_bytes,
        zipped_bytes=result.archive.zipped_bytes,
        architecture=result.platform.architecture,
        python_version=result.platform.python_version,
        handler=result.target.handler,
        inputs_sha256=inputs.sha256,
        inputs=dict(inputs.parts),
        build_options=dict(inputs.options),
    )
