"""The packaging steps on small synthetic trees: trim, sourceless bytecode, zip, manifest."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from provisioning.packaging import bytecode, install
from provisioning.packaging.archive import write_zip
from provisioning.packaging.build import BuildOptions, build_function, third_party_names
from provisioning.packaging.manifest import PackageEntry, read_manifest, update_manifest
from provisioning.packaging.targets import TARGETS, Platform, find_workspace_root, read_member
from provisioning.packaging.trim import AWS_SDK_RULE, SAFE_RULES, apply_trim

RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root


def test_trim_removes_only_what_the_rules_name_and_reports_bytes_per_rule(tmp_path: Path) -> None:
    kept = [
        "litellm/proxy/proxy_server.py",
        "litellm/rust_bridge/loader.py",
        "litellm/model_prices_and_context_window_backup.json",
        "litellm-1.0.dist-info/METADATA",
        "opentelemetry_sdk-1.0.dist-info/entry_points.txt",
        "huggingface_hub/__init__.py",
    ]
    removed = {
        "litellm/proxy/_experimental/out/index.html": "litellm-proxy-ui",
        "litellm/rust_bridge/_native.abi3.so": "litellm-rust-extension",
        "hf_xet/hf_xet.abi3.so": "hf-xet",
        "regex/tests/test_regex.py": "bundled-tests",
        "openai/types.pyi": "type-stubs",
        "bin/litellm": "console-scripts",
        "litellm-1.0.dist-info/RECORD": "install-records",
        "botocore/data/endpoints.json": "aws-sdk-in-runtime",
        "boto3-1.0.dist-info/METADATA": "aws-sdk-in-runtime",
    }
    root = make_tree(tmp_path, {path: "x" * 10 for path in [*kept, *removed]})
    saved = apply_trim(root, (*SAFE_RULES, AWS_SDK_RULE))
    remaining = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert remaining == sorted(kept)
    for rule in set(removed.values()):
        assert saved[rule] == 10 * list(removed.values()).count(rule), rule
    assert not (root / "hf_xet").exists()  # emptied directories go too


def test_sourceless_bytecode_replaces_sources_of_third_party_packages_only(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path / "task",
        {
            "vendor/__init__.py": "",
            "vendor/core.py": "VALUE = 42\n",
            "single.py": "X = 1\n",
            "mine/app.py": "Y = 2\n",
        },
    )
    interpreter = bytecode.find_interpreter(RUNNING)
    bytecode.compile_tree(interpreter, root, workers=1)
    removed = bytecode.make_sourceless(root, frozenset({"vendor", "single"}), RUNNING)
    assert removed == len("VALUE = 42\n") + len("X = 1\n")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    tag = sys.implementation.cache_tag
    assert files == sorted(
        [
            "vendor/__init__.pyc",
            "vendor/core.pyc",
            "single.pyc",
            "mine/app.py",
            f"mine/__pycache__/app.{tag}.pyc",
        ]
    )
    probe = "import sys; sys.path.insert(0, sys.argv[1]); "
    probe += "import vendor.core, single; print(vendor.core.VALUE)"
    result = subprocess.run(  # noqa: S603 - fixed argv
        [str(interpreter), "-I", "-S", "-B", "-c", probe, str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "42"


def test_third_party_names_cover_packages_and_single_modules_but_not_metadata(
    tmp_path: Path,
) -> None:
    root = make_tree(
        tmp_path, {"six.py": "", "litellm/__init__.py": "", "six-1.0.dist-info/METADATA": ""}
    )
    assert third_party_names(root) == frozenset({"six", "litellm"})


def test_zip_bytes_do_not_depend_on_file_times_or_creation_order(tmp_path: Path) -> None:
    files = {"b/module.py": "B = 1\n", "a/ext.so": "binary", "a/data.json": "{}"}
    first = make_tree(tmp_path / "one", files)
    second = make_tree(tmp_path / "two", dict(reversed(list(files.items()))))
    os.utime(second / "b/module.py", (1_000_000_000, 1_000_000_000))
    zips = [
        write_zip(root, tmp_path / f"{root.name}.zip", compresslevel=9) for root in (first, second)
    ]
    assert zips[0].sha256 == zips[1].sha256
    with zipfile.ZipFile(zips[0].path) as archive:
        modes = {entry.filename: entry.external_attr >> 16 for entry in archive.infolist()}
    assert modes == {"a/data.json": 0o100644, "a/ext.so": 0o100755, "b/module.py": 0o100644}


def entry(function: str, file: str) -> PackageEntry:
    return PackageEntry(function, file, "00", 1, 1, "arm64", "3.12", f"{function}.main.handler")


def test_manifest_keeps_other_functions_and_deletes_superseded_zips(tmp_path: Path) -> None:
    for name in ("api-old.zip", "worker-old.zip", "unrelated.zip"):
        (tmp_path / name).write_bytes(b"zip")
    manifest = tmp_path / "manifest.json"
    update_manifest(manifest, [entry("api", "api-old.zip"), entry("worker", "worker-old.zip")])
    # GIVEN a rebuilt worker: its new zip is written before the manifest is updated
    (tmp_path / "worker-new.zip").write_bytes(b"zip")
    update_manifest(manifest, [entry("worker", "worker-new.zip")])
    assert {name: e.file for name, e in read_manifest(manifest).items()} == {
        "api": "api-old.zip",
        "worker": "worker-new.zip",
    }
    assert sorted(p.name for p in tmp_path.glob("*.zip")) == [
        "api-old.zip",
        "unrelated.zip",
        "worker-new.zip",
    ]


WORKSPACE = find_workspace_root(Path(__file__).resolve())
CONTRACTS_DIR = WORKSPACE / "contracts/src/gen_ai_contracts"


def test_exported_requirements_are_pinned_and_exclude_workspace_members() -> None:
    member = read_member(WORKSPACE, TARGETS["worker"])
    requirements = install.export_requirements(WORKSPACE, member).splitlines()
    assert any(line.startswith("litellm==") for line in requirements)
    assert any(line.startswith("pydantic-settings==") for line in requirements)
    assert not [line for line in requirements if line.startswith((".", "-e", "/"))]
    assert member.package_dirs == (WORKSPACE / "worker/src/worker",)


@pytest.mark.parametrize("function", ["api", "worker"])
def test_both_functions_bundle_the_contracts_package(function: str, tmp_path: Path) -> None:
    # GIVEN a function's member and the workspace members the lock says it depends on
    member = read_member(WORKSPACE, TARGETS[function])
    dependencies = install.workspace_dependencies(WORKSPACE, member)
    assert [d.distribution for d in dependencies] == ["gen-ai-on-aws-contracts"]
    assert dependencies[0].package_dirs == (CONTRACTS_DIR,)

    # WHEN the build copies their code into the staging directory
    staging = tmp_path / "package"
    for code in (member, *dependencies):
        install.copy_member_code(code, staging)

    # THEN the contracts ship beside the function's own package, as sources
    names = sorted(entry.name for entry in staging.iterdir())
    assert names == sorted(["gen_ai_contracts", member.package_dirs[0].name])
    bundled = staging / "gen_ai_contracts"
    shipped = {p.relative_to(bundled) for p in bundled.rglob("*.py")}
    expected = {
        p.relative_to(CONTRACTS_DIR)
        for p in CONTRACTS_DIR.rglob("*.py")
        if "__pycache__" not in p.parts and "tests" not in p.parts
    }
    assert shipped == expected
    assert not list(staging.rglob("__pycache__"))


@pytest.mark.parametrize("function", ["api", "worker"])
def test_a_build_ships_the_contracts_as_own_code_with_sources_and_bytecode(
    function: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a build whose third-party install is skipped (the real one: test_packaging.py)
    monkeypatch.setattr(install, "install_dependencies", lambda *_args: None)
    options = BuildOptions(
        platform=Platform(architecture="x86_64", python_version=RUNNING),
        workspace=WORKSPACE,
        out_dir=tmp_path / "out",
        workers=1,
    )

    # WHEN the function is built
    result = build_function(TARGETS[function], options)

    # THEN its zip holds the contracts beside its own package, sources kept like our own code
    with zipfile.ZipFile(result.archive.path) as archive:
        names = set(archive.namelist())
    tag = sys.implementation.cache_tag
    assert "gen_ai_contracts/__init__.py" in names
    assert "gen_ai_contracts/tasks/complete.py" in names
    assert f"gen_ai_contracts/__pycache__/__init__.{tag}.pyc" in names
    own_package = TARGETS[function].handler_module.split(".")[0]
    assert {name.split("/")[0] for name in names} == {"gen_ai_contracts", own_package}


def test_local_paths_are_read_from_every_requirement_form() -> None:
    exported = "\n".join(
        ["anyio==4.0", "./contracts", "-e ./worker", "./shared ; sys_platform == 'linux'", ""]
    )
    assert install._local_paths(exported) == ["./contracts", "./worker", "./shared"]


def test_a_dependency_outside_the_workspace_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    member = read_member(WORKSPACE, TARGETS["worker"])
    monkeypatch.setattr(install, "_export", lambda *_args: "anyio==4.0\n../elsewhere\n")
    with pytest.raises(ValueError, match="outside the workspace"):
        install.export_requirements(WORKSPACE, member)
    with pytest.raises(ValueError, match="outside the workspace"):
        install.workspace_dependencies(WORKSPACE, member)


def test_two_members_with_the_same_import_name_are_refused(tmp_path: Path) -> None:
    member = read_member(WORKSPACE, TARGETS["worker"])
    staging = tmp_path / "package"
    install.copy_member_code(member, staging)
    with pytest.raises(FileExistsError, match="rename one of them"):
        install.copy_member_code(member, staging)


def test_a_missing_interpreter_is_reported_with_how_to_get_one() -> None:
    with pytest.raises(FileNotFoundError, match=r"uv python install 2\.9"):
        bytecode.find_interpreter("2.9")
