"""`build-lambdas`: build the Lambda zips and record them, with the hash of what they were built
from, in build/manifest.json, where `pulumi up` finds them current and reuses them."""

from __future__ import annotations

import argparse
import platform as host
import sys
import tempfile
from pathlib import Path

from provisioning.packaging import bytecode, importcheck, install
from provisioning.packaging.build import MB, BuildOptions, BuildResult, build_function
from provisioning.packaging.freshness import ensure_package, manifest_entry
from provisioning.packaging.inputs import package_inputs
from provisioning.packaging.manifest import MANIFEST_NAME, update_manifest
from provisioning.packaging.targets import (
    ARCHITECTURES,
    TARGETS,
    LambdaTarget,
    Platform,
    find_workspace_root,
    read_member,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="build-lambdas", description=__doc__)
    parser.add_argument(
        "functions", nargs="*", metavar="FUNCTION", help=f"{sorted(TARGETS)}; default: all"
    )
    parser.add_argument("--arch", choices=ARCHITECTURES, default="arm64")
    parser.add_argument("--python", default="3.12", help="Lambda runtime version (python3.X)")
    parser.add_argument("--out", type=Path, help="default: <workspace>/provisioning/build")
    parser.add_argument("--interpreter", help="Python of the runtime's version, used for bytecode")
    parser.add_argument(
        "--no-bytecode", action="store_true", help="ship sources only (slow cold starts)"
    )
    parser.add_argument(
        "--keep-sources", action="store_true", help="ship .py beside third-party .pyc"
    )
    parser.add_argument(
        "--keep-aws-sdk", action="store_true", help="bundle boto3/botocore/s3transfer"
    )
    parser.add_argument("--compresslevel", type=int, default=9, choices=range(10))
    parser.add_argument("--max-unzipped-mb", type=int, default=250)
    parser.add_argument(
        "--check-import", type=int, default=0, metavar="RUNS", help="time handler imports"
    )
    parser.add_argument(
        "--if-stale",
        action="store_true",
        help="build only packages whose inputs changed since they were recorded (as `pulumi up`)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.functions) - set(TARGETS)
    if unknown:
        parser.error(f"unknown function(s) {sorted(unknown)}; choose from {sorted(TARGETS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workspace = find_workspace_root(Path.cwd())
    out_dir = args.out or workspace / "provisioning" / "build"
    options = BuildOptions(
        platform=Platform(architecture=args.arch, python_version=args.python),
        workspace=workspace,
        out_dir=out_dir,
        bytecode=not args.no_bytecode,
        sourceless=not args.keep_sources,
        drop_aws_sdk=not args.keep_aws_sdk,
        interpreter=args.interpreter,
        compresslevel=args.compresslevel,
        max_unzipped_bytes=args.max_unzipped_mb * MB,
    )
    manifest = out_dir / MANIFEST_NAME
    functions = [TARGETS[name] for name in (args.functions or sorted(TARGETS))]
    results: list[BuildResult] = []

    def build_and_report(target: LambdaTarget, build_options: BuildOptions) -> BuildResult:
        result = build_function(target, build_options)
        print_report(result)
        results.append(result)
        return result

    if args.if_stale:
        for target in functions:
            ensure_package(target, options, manifest, build_and_report, print)
    else:
        # Always built (CI artifacts), recording the input hash `pulumi up` compares with.
        entries = []
        for target in functions:
            inputs = package_inputs(workspace, target, options)
            entries.append(manifest_entry(build_and_report(target, options), out_dir, inputs))
        update_manifest(manifest, entries)
    if args.check_import:
        for result in results:
            check_import(result, options, args.check_import)
    return 0


def print_report(result: BuildResult) -> None:
    archive = result.archive
    target, runtime = result.target, result.platform
    print(f"{target.function} ({runtime.architecture}, python{runtime.python_version})")
    print(f"  installed from the lock      {result.installed_bytes / MB:8.1f} MB")
    for rule, saved in result.trimmed_bytes.items():
        print(f"  trim {rule:<24}{-saved / MB:8.1f} MB")
    print(f"  bytecode added               {result.bytecode_bytes / MB:8.1f} MB")
    print(f"  third-party sources removed  {-result.source_removed_bytes / MB:8.1f} MB")
    unzipped = archive.unzipped_bytes / MB
    print(f"  unzipped                     {unzipped:8.1f} MB ({archive.file_count} files)")
    print(f"  zipped                       {archive.zipped_bytes / MB:8.1f} MB -> {archive.path}")
    print(f"  built in {result.seconds:.1f} s")


def check_import(result: BuildResult, options: BuildOptions, runs: int) -> None:
    """Time the handler import from the unpacked zip; only possible on a host of the same arch."""
    machine = {"aarch64": "arm64", "arm64": "arm64"}.get(host.machine(), host.machine())
    if machine != result.platform.architecture:
        print(
            f"  import check skipped: host is {machine}, package is {result.platform.architecture}"
        )
        return
    interpreter = bytecode.find_interpreter(result.platform.python_version, options.interpreter)
    with tempfile.TemporaryDirectory(prefix="lambda-import-") as scratch:
        package = importcheck.unpack(result.archive.path, Path(scratch) / "task")
        sys_path = [package]
        if options.drop_aws_sdk:
            member = read_member(options.workspace, result.target)
            requirements = install.export_requirements(options.workspace, member)
            sdk = Path(scratch) / "runtime-sdk"
            sys_path.append(
                importcheck.install_runtime_sdk(requirements, sdk, result.platform, interpreter)
            )
        timing = importcheck.time_handler_import(
            interpreter, result.target.handler_module, sys_path, runs
        )
    runs_text = ", ".join(f"{seconds:.2f}" for seconds in timing.runs)
    print(
        f"  {result.target.handler_module} import: median {timing.median:.2f} s wall "
        f"({runs_text}), {timing.cpu_median:.2f} s CPU"
    )


if __name__ == "__main__":
    sys.exit(main())
