"""Files a Lambda never needs, removed before bytecode compilation, with what each rule saves.

Each rule was checked by importing the handler and running a litellm + instructor completion
from the trimmed package (see tests/test_packaging.py); a rule goes here only with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path


@dataclass(frozen=True)
class TrimRule:
    """A named group of glob patterns (matched against POSIX paths relative to the package root)."""

    name: str
    reason: str
    patterns: tuple[str, ...]

    def matches(self, relative_path: str) -> bool:
        return any(fnmatchcase(relative_path, pattern) for pattern in self.patterns)


AWS_SDK_RULE = TrimRule(
    "aws-sdk-in-runtime",
    "boto3, botocore and s3transfer ship with every Lambda Python runtime (unpinned version)",
    tuple(
        f"{name}{suffix}"
        for name in ("boto3", "botocore", "s3transfer")
        for suffix in ("/*", "-*.dist-info/*")
    ),
)

SAFE_RULES: tuple[TrimRule, ...] = (
    TrimRule(
        "litellm-proxy-ui",
        "the LiteLLM proxy's admin UI build; only the proxy server serves it",
        ("litellm/proxy/_experimental/out/*",),
    ),
    TrimRule(
        "litellm-proxy-openapi-assets",
        "Swagger assets and OpenAPI snapshot of the proxy server, never read by the SDK",
        ("litellm/proxy/swagger/*", "litellm/proxy/_lazy_openapi_snapshot.json"),
    ),
    TrimRule(
        "litellm-rust-extension",
        "optional native bridge: chat completions are PYTHON_ONLY in litellm's rollout catalog; "
        "only OCR and Bedrock transcription require it (LITELLM_RUST must stay unset)",
        ("litellm/rust_bridge/_native*.so",),
    ),
    TrimRule(
        "hf-xet",
        "huggingface_hub's optional Xet download accelerator; nothing here downloads from the Hub",
        ("hf_xet/*", "hf_xet-*.dist-info/*"),
    ),
    TrimRule("bundled-tests", "libraries' own test suites", ("*/tests/*", "*/test/*")),
    TrimRule("type-stubs", "type information is for type checkers only", ("*.pyi", "*/py.typed")),
    TrimRule(
        "console-scripts", "entry-point scripts; a Lambda imports, it never execs them", ("bin/*",)
    ),
    TrimRule(
        "c-sources", "sources of already compiled extensions", ("*.pyx", "*.pxd", "*.c", "*.h")
    ),
    TrimRule(
        "install-records",
        "installer bookkeeping; METADATA and entry_points.txt stay (importlib.metadata needs them)",
        tuple(
            f"*.dist-info/{name}"
            for name in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
        ),
    ),
)


def tree_files(root: Path) -> list[Path]:
    """Every regular file under root, sorted so that all later steps are order-stable."""
    return sorted(path for path in root.rglob("*") if path.is_file())


def apply_trim(root: Path, rules: tuple[TrimRule, ...]) -> dict[str, int]:
    """Delete files matched by the rules; return bytes removed per rule (first match wins)."""
    saved = {rule.name: 0 for rule in rules}
    for path in tree_files(root):
        relative = path.relative_to(root).as_posix()
        rule = next((rule for rule in rules if rule.matches(relative)), None)
        if rule is not None:
            saved[rule.name] += path.stat().st_size
            path.unlink()
    _remove_empty_dirs(root)
    return saved


def _remove_empty_dirs(root: Path) -> None:
    for directory in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
