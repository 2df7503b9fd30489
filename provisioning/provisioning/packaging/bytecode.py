"""Bytecode for the Lambda's Python, compiled so it is both reproducible and actually used.

Without shipped bytecode every cold start recompiles all imported modules in memory
(/var/task is read-only), which roughly doubles the import time of litellm and its friends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from provisioning.packaging.trim import tree_files

LAMBDA_TASK_ROOT = "/var/task"


def find_interpreter(python_version: str, explicit: str | None = None) -> Path:
    """An interpreter of exactly the runtime's minor version: .pyc files are version specific."""
    candidates = [explicit] if explicit else _candidates(python_version)
    for candidate in candidates:
        if candidate and _reports_version(candidate, python_version):
            return Path(candidate)
    raise FileNotFoundError(
        f"no Python {python_version} interpreter found (tried {candidates}); install one "
        f"(`uv python install {python_version}`) or pass --interpreter"
    )


def _candidates(python_version: str) -> list[str]:
    found: list[str] = []
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python_version:
        found.append(sys.executable)
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [uv, "python", "find", "--no-project", python_version],
            capture_output=True,
            text=True,
            check=False,
        )
        found += result.stdout.split()
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found += [
        str(p)
        for p in sorted(pyenv_root.glob(f"versions/{python_version}.*/bin/python{python_version}"))
    ]
    found.append(shutil.which(f"python{python_version}") or "")
    return found


def _reports_version(interpreter: str, python_version: str) -> bool:
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        result = subprocess.run(  # noqa: S603 - interpreter path chosen by the caller
            [interpreter, "-I", "-c", probe],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.strip() == python_version


def compile_tree(interpreter: Path, root: Path, workers: int) -> None:
    """Compile every module with the runtime's interpreter.

    unchecked-hash pycs are never validated against the source, so the zip's fixed timestamps
    cannot invalidate them and Python skips a stat per module; PYTHONHASHSEED=0 keeps the
    marshalled frozenset constants in the same order on every build.
    """
    command = [
        str(interpreter),
        "-I",
        "-m",
        "compileall",
        "-q",
        "-j",
        str(workers),
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(root),
        "-p",
        LAMBDA_TASK_ROOT,  # tracebacks name the path the code has inside the Lambda
        str(root),
    ]
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(command, check=True, env=environment)  # noqa: S603 - fixed argv, no shell


def make_sourceless(root: Path, top_level_names: frozenset[str], python_version: str) -> int:
    """Replace `x.py` + `__pycache__/x.cpython-3NN.pyc` by `x.pyc` for the given top-level names.

    Returns the bytes of source removed. Tracebacks into these packages keep file and line
    but lose the source text: the price of fitting litellm under the size target.
    """
    tag = f".cpython-{python_version.replace('.', '')}.pyc"
    removed = 0
    for cached in tree_files(root):
        relative = cached.relative_to(root)
        if cached.parent.name != "__pycache__" or not cached.name.endswith(tag):
            continue
        if _top_level_name(relative, tag) not in top_level_names:
            continue
        source = cached.parent.parent / (cached.name.removesuffix(tag) + ".py")
        if source.is_file():
            removed += source.stat().st_size
            source.unlink()
            cached.rename(source.with_suffix(".pyc"))
    for cache_dir in sorted(root.rglob("__pycache__"), reverse=True):
        if not any(cache_dir.iterdir()):
            cache_dir.rmdir()
    return removed


def _top_level_name(cached_relative: Path, tag: str) -> str:
    """The import name a cached module belongs to (root-level modules cache in ./__pycache__)."""
    if cached_relative.parts[0] == "__pycache__":
        return cached_relative.name.removesuffix(tag)
    return cached_relative.parts[0]
