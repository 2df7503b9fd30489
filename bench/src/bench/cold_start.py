"""Benchmark 3: cold start and package size of both Lambdas, from the packages we deploy.

Builds each function with the provisioning packager (x86_64 so this machine can run it, the
deployed Python version), with and without bytecode, then imports the handler 5 times in fresh
interpreters that see only the unpacked package (plus the runtime's boto3), as Lambda's init does.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

from provisioning.packaging import bytecode, importcheck, install
from provisioning.packaging.build import MB, BuildOptions, build_function
from provisioning.packaging.targets import TARGETS, Platform, find_workspace_root, read_member

RUNS = 5


def run(
    python_version: str = "3.12", functions: tuple[str, ...] = ("worker", "api")
) -> dict[str, Any]:
    workspace = find_workspace_root(Path(__file__).resolve())
    platform = Platform(architecture="x86_64", python_version=python_version)
    interpreter = bytecode.find_interpreter(python_version)
    results: dict[str, Any] = {"python": python_version, "architecture": "x86_64"}
    with tempfile.TemporaryDirectory(prefix="bench-cold-start-") as scratch:
        root = Path(scratch)
        for name in functions:
            target = TARGETS[name]
            member = read_member(workspace, target)
            sdk = importcheck.install_runtime_sdk(
                install.export_requirements(workspace, member), root / "sdk", platform, interpreter
            )
            for variant, with_bytecode in (("bytecode", True), ("no_bytecode", False)):
                options = BuildOptions(
                    platform=platform, workspace=workspace, out_dir=root / f"{name}-{variant}",
                    bytecode=with_bytecode,
                )  # fmt: skip
                built = build_function(target, options)
                package = importcheck.unpack(built.archive.path, root / f"{name}-{variant}-task")
                timing = importcheck.time_handler_import(
                    interpreter, target.handler_module, [package, sdk], RUNS
                )
                results[f"{name}_{variant}"] = {
                    "unzipped_mb": round(built.archive.unzipped_bytes / MB, 1),
                    "zipped_mb": round(built.archive.zipped_bytes / MB, 1),
                    "import_median_s": round(timing.median, 2),
                    "import_cpu_median_s": round(timing.cpu_median, 2),
                    "rss_after_import_mb": round(statistics.median(timing.rss_mb_runs), 1),
                    "build_s": round(built.seconds, 1),
                }
    return results
