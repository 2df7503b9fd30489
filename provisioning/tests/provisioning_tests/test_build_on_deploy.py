"""`pulumi up` is the whole deploy: the program builds missing or stale packages and reuses
current ones, judged by the hash of what they are built from (packaging/inputs.py).

The program runs under mocks in a copy of the workspace's build inputs (the lock, every member's
pyproject.toml, the bundled members' packages), so edits elsewhere in the repository cannot
interfere. Most tests stand a fake builder in for `build_function`; the hashing, the decision and
the manifest are the real code. One test runs the real builder (wheel install skipped).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from provisioning.packaging import bytecode, cli, install
from provisioning.packaging.archive import ArchiveInfo, sha256_of
from provisioning.packaging.build import BuildOptions, BuildResult, build_function
from provisioning.packaging.freshness import Builder
from provisioning.packaging.inputs import bundled_members, package_inputs
from provisioning.packaging.manifest import read_manifest
from provisioning.packaging.targets import (
    TARGETS,
    LambdaTarget,
    Platform,
    find_workspace_root,
    read_member,
    read_member_at,
)
from provisioning.stack.program import deploy

from . import harness
from .harness import StackRun, StackRunner

WORKSPACE = find_workspace_root(Path(__file__).resolve())
BUNDLED = ("contracts", "app", "worker")
FUNCTION = "aws:lambda/function:Function"


class FakeBuilder:
    """Stands in for `build_function`: a small zip named by its hash; remembers what it built."""

    def __init__(self) -> None:
        self.built: list[tuple[str, str, str]] = []

    def __call__(self, target: LambdaTarget, options: BuildOptions) -> BuildResult:
        platform = options.platform
        self.built.append((target.function, platform.architecture, platform.python_version))
        options.out_dir.mkdir(parents=True, exist_ok=True)
        scratch = options.out_dir / f"{target.function}.partial"
        with zipfile.ZipFile(scratch, "w") as archive:
            archive.writestr("built.txt", f"{target.function} {platform} #{len(self.built)}")
        digest = sha256_of(scratch)
        final = options.out_dir / f"{target.function}-{digest[:16]}.zip"
        scratch.replace(final)
        size = final.stat().st_size
        return BuildResult(
            target=target,
            platform=platform,
            archive=ArchiveInfo(final, digest, size, size, 1),
            installed_bytes=0,
            trimmed_bytes={},
            bytecode_bytes=0,
            source_removed_bytes=0,
            seconds=0.0,
        )

    @property
    def functions(self) -> list[str]:
        return [function for function, _, _ in self.built]


def copy_build_inputs(destination: Path) -> Path:
    """The lock, every member's pyproject.toml (uv export needs the whole workspace) and the
    packages of the members the Lambdas bundle, copied as the build copies them."""
    destination.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy2(WORKSPACE / name, destination / name)
    root = tomllib.loads((WORKSPACE / "pyproject.toml").read_text(encoding="utf-8"))
    for member in root["tool"]["uv"]["workspace"]["members"]:
        (destination / member).mkdir(parents=True)
        shutil.copy2(WORKSPACE / member / "pyproject.toml", destination / member)
    for member in BUNDLED:
        for package_dir in read_member_at(WORKSPACE / member).package_dirs:
            shutil.copytree(
                package_dir,
                destination / package_dir.relative_to(WORKSPACE),
                ignore=shutil.ignore_patterns(*install.MEMBER_CODE_IGNORED),
            )
    return destination


@pytest.fixture
def inputs_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The copied workspace, as the working directory (Pulumi runs the program inside it)."""
    tree = copy_build_inputs(tmp_path / "workspace")
    monkeypatch.chdir(tree)
    return tree


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return tmp_path / "build" / "manifest.json"


DeployRun = Callable[..., StackRun]


@pytest.fixture
def deploy_with(
    stack_runner: StackRunner,
    monkeypatch: pytest.MonkeyPatch,
    manifest: Path,
    inputs_tree: Path,
    caplog: pytest.LogCaptureFixture,
) -> DeployRun:
    """deploy_with(builder, **config): one mocked `pulumi up` that builds into `manifest`."""
    caplog.set_level(logging.INFO)  # pulumi.log.info under mocks goes to the root logger

    def run(builder: Builder, **overrides: str) -> StackRun:
        monkeypatch.setattr(harness, "deploy", partial(deploy, builder))
        return stack_runner(manifest=manifest, buildPackages="true", **overrides)

    return run


def dev_options(workspace: Path) -> BuildOptions:
    """What the dev stack builds with (its architecture and runtime, the default settings)."""
    platform = Platform(architecture="arm64", python_version="3.12")
    return BuildOptions(platform=platform, workspace=workspace, out_dir=workspace / "unused")


def edit(path: Path) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")


def test_a_deploy_without_packages_builds_and_records_both(
    deploy_with: DeployRun, manifest: Path, inputs_tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN no build directory
    assert not manifest.parent.exists()
    builder = FakeBuilder()

    # WHEN the program runs
    run = deploy_with(builder)

    # THEN it built both packages for the stack's runtime, said so, and recorded their inputs
    assert builder.built == [("worker", "arm64", "3.12"), ("api", "arm64", "3.12")]
    assert "building worker (not built yet)" in caplog.messages
    assert "building api (not built yet)" in caplog.messages
    entries = read_manifest(manifest)
    for function, target in TARGETS.items():
        inputs = package_inputs(inputs_tree, target, dev_options(inputs_tree))
        assert entries[function].inputs_sha256 == inputs.sha256
        assert entries[function].inputs == inputs.parts
        assert entries[function].build_options["architecture"] == "arm64"
        assert (manifest.parent / entries[function].file).is_file()
    # and the functions deploy what was just built
    assert run.one(FUNCTION, "worker")["code"].path == str(manifest.parent / entries["worker"].file)


def test_a_second_deploy_reuses_both_packages(
    deploy_with: DeployRun, manifest: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = deploy_with(FakeBuilder())
    recorded = manifest.read_text(encoding="utf-8")
    caplog.clear()

    builder = FakeBuilder()
    second = deploy_with(builder)

    assert builder.built == []
    assert manifest.read_text(encoding="utf-8") == recorded
    assert any(m.startswith("worker package up to date: worker-") for m in caplog.messages)
    assert any(m.startswith("api package up to date: api-") for m in caplog.messages)
    for function in ("worker", "api"):
        assert (
            second.one(FUNCTION, function)["sourceCodeHash"]
            == (first.one(FUNCTION, function)["sourceCodeHash"])
        )


@pytest.mark.parametrize(
    ("edited", "rebuilt", "reason"),
    [
        ("app/gen_ai_on_aws/__init__.py", ["api"], "sources changed: app"),
        ("worker/src/worker/__init__.py", ["worker"], "sources changed: worker"),
        (
            "contracts/src/gen_ai_contracts/__init__.py",
            ["worker", "api"],
            "sources changed: contracts",
        ),
        ("worker/pyproject.toml", ["worker"], "sources changed: worker"),
        ("uv.lock", ["worker", "api"], "uv.lock changed"),
    ],
)
def test_a_changed_input_rebuilds_only_the_packages_built_from_it(
    deploy_with: DeployRun,
    inputs_tree: Path,
    caplog: pytest.LogCaptureFixture,
    edited: str,
    rebuilt: list[str],
    reason: str,
) -> None:
    deploy_with(FakeBuilder())
    edit(inputs_tree / edited)
    caplog.clear()

    builder = FakeBuilder()
    deploy_with(builder)

    assert builder.functions == rebuilt
    for function in rebuilt:
        assert f"building {function} ({reason})" in caplog.messages
    for function in {"worker", "api"} - set(rebuilt):
        assert any(m.startswith(f"{function} package up to date") for m in caplog.messages)


def test_a_new_module_rebuilds_its_package(deploy_with: DeployRun, inputs_tree: Path) -> None:
    deploy_with(FakeBuilder())
    (inputs_tree / "worker/src/worker/new_module.py").write_text("X = 1\n", encoding="utf-8")

    builder = FakeBuilder()
    deploy_with(builder)

    assert builder.functions == ["worker"]


def test_times_caches_and_tests_rebuild_nothing(deploy_with: DeployRun, inputs_tree: Path) -> None:
    # GIVEN current packages, then files touched and things the build never copies added
    deploy_with(FakeBuilder())
    for path in inputs_tree.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    for ignored in ("__pycache__/main.cpython-312.pyc", "tests/test_new.py", ".hidden"):
        path = inputs_tree / "worker/src/worker" / ignored
        path.parent.mkdir(exist_ok=True)
        path.write_text("ignored\n", encoding="utf-8")

    builder = FakeBuilder()
    deploy_with(builder)

    assert builder.built == []


@pytest.mark.parametrize(
    ("overrides", "built", "reason"),
    [
        ({"architecture": "x86_64"}, ("x86_64", "3.12"), "architecture arm64 -> x86_64"),
        ({"pythonVersion": "3.13"}, ("arm64", "3.13"), "python_version 3.12 -> 3.13"),
    ],
)
def test_a_changed_build_option_rebuilds_for_the_new_runtime(
    deploy_with: DeployRun,
    manifest: Path,
    caplog: pytest.LogCaptureFixture,
    overrides: dict[str, str],
    built: tuple[str, str],
    reason: str,
) -> None:
    deploy_with(FakeBuilder())
    caplog.clear()

    builder = FakeBuilder()
    run = deploy_with(builder, **overrides)

    assert builder.built == [("worker", *built), ("api", *built)]
    assert f"building worker (build options changed: {reason})" in caplog.messages
    entry = read_manifest(manifest)["worker"]
    assert (entry.architecture, entry.python_version) == built
    assert run.one(FUNCTION, "worker")["architectures"] == [built[0]]


def test_build_lambdas_records_the_hash_pulumi_up_checks(
    deploy_with: DeployRun,
    manifest: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN packages built by `build-lambdas` (CI artifacts) into the stack's build directory
    ci_builder = FakeBuilder()
    monkeypatch.setattr(cli, "build_function", ci_builder)
    assert cli.main(["--out", str(manifest.parent)]) == 0
    assert ci_builder.functions == ["api", "worker"]
    # `--if-stale` does what `pulumi up` does: nothing, here
    assert cli.main(["--out", str(manifest.parent), "--if-stale"]) == 0
    assert ci_builder.functions == ["api", "worker"]

    # WHEN the program runs
    builder = FakeBuilder()
    deploy_with(builder)

    # THEN it recognises them as current
    assert builder.built == []
    assert any(m.startswith("worker package up to date") for m in caplog.messages)


def test_a_manifest_without_input_hashes_is_rebuilt(
    deploy_with: DeployRun, manifest: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN packages recorded by an older build-lambdas (no input hash)
    manifest.parent.mkdir()
    harness.write_fake_packages(manifest.parent)

    builder = FakeBuilder()
    deploy_with(builder)

    assert builder.functions == ["worker", "api"]
    assert any("built without an input hash" in m for m in caplog.messages)


def test_packages_named_by_package_manifest_are_deployed_as_they_are(
    stack_runner: StackRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN prebuilt packages without input hashes, named by packageManifest (the fixture's)
    builder = FakeBuilder()
    monkeypatch.setattr(harness, "deploy", partial(deploy, builder))

    run = stack_runner()

    assert builder.built == []
    assert run.one(FUNCTION, "worker")["code"].path.endswith("worker-fake.zip")


def test_the_input_hash_ignores_file_times_and_creation_order_and_is_stable_across_processes(
    inputs_tree: Path, tmp_path: Path
) -> None:
    # GIVEN the same inputs written in reverse order, with other modification times
    reordered = tmp_path / "reordered"
    files = sorted(p for p in inputs_tree.rglob("*") if p.is_file())
    for path in reversed(files):
        copy = reordered / path.relative_to(inputs_tree)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(path.read_bytes())
        os.utime(copy, (1_000_000_000, 1_000_000_000))

    # THEN every package's hash is the same, here and in a fresh interpreter (other hash seed)
    for function, target in TARGETS.items():
        here = package_inputs(inputs_tree, target, dev_options(inputs_tree)).sha256
        assert package_inputs(reordered, target, dev_options(reordered)).sha256 == here
        probe = (
            "import sys; from pathlib import Path; "
            "from provisioning.packaging.build import BuildOptions; "
            "from provisioning.packaging.inputs import package_inputs; "
            "from provisioning.packaging.targets import TARGETS, Platform; "
            "w = Path(sys.argv[1]); "
            "o = BuildOptions(platform=Platform('arm64', '3.12'), workspace=w, out_dir=w); "
            "print(package_inputs(w, TARGETS[sys.argv[2]], o).sha256)"
        )
        result = subprocess.run(  # noqa: S603 - fixed argv
            [sys.executable, "-c", probe, str(reordered), function],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "random"},
            timeout=60,
        )
        assert result.stdout.strip() == here


def test_the_hashed_members_are_those_the_build_copies() -> None:
    for target in TARGETS.values():
        # GIVEN what the build copies (it asks `uv export`)
        member = read_member(WORKSPACE, target)
        copied = (member, *install.workspace_dependencies(WORKSPACE, member))
        # THEN the hash covers exactly those members
        hashed = bundled_members(WORKSPACE, target)
        assert {read_member_at(root).distribution for root in hashed} == {
            code.distribution for code in copied
        }


def runtime_python() -> str:
    """A Lambda runtime version this machine has an interpreter for (bytecode needs it)."""
    for version in ("3.12", "3.13"):
        try:
            bytecode.find_interpreter(version)
        except FileNotFoundError:
            continue
        return version
    raise FileNotFoundError("the real build needs a python3.12 or python3.13 interpreter")


def test_the_real_builder_builds_once_then_the_package_is_reused(
    deploy_with: DeployRun, manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the real build with its wheel install skipped (test_packaging.py builds with wheels)
    monkeypatch.setattr(install, "install_dependencies", lambda *_args: None)
    built: list[str] = []

    def real_builder(target: LambdaTarget, options: BuildOptions) -> BuildResult:
        built.append(target.function)
        return build_function(target, options)

    python = runtime_python()

    # WHEN the program runs twice
    first = deploy_with(real_builder, architecture="x86_64", pythonVersion=python)
    second = deploy_with(real_builder, architecture="x86_64", pythonVersion=python)

    # THEN both packages were built once, hold their handlers and the contracts, and were reused
    assert built == ["worker", "api"]
    entries = read_manifest(manifest)
    for function, target in TARGETS.items():
        with zipfile.ZipFile(manifest.parent / entries[function].file) as archive:
            names = set(archive.namelist())
        assert target.handler_module.replace(".", "/") + ".py" in names
        assert "gen_ai_contracts/__init__.py" in names
        assert (
            second.one(FUNCTION, function)["sourceCodeHash"]
            == (first.one(FUNCTION, function)["sourceCodeHash"])
        )
