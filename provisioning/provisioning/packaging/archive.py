"""Deterministic zip: same files in, same bytes out, so the content hash names the package."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from provisioning.packaging.trim import tree_files

# The earliest timestamp a zip entry can hold; any fixed value would do.
_FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_UNIX_SYSTEM = 3
# Lambda runs code as an unprivileged user: everything must be world-readable.
_FILE_MODE = 0o100644
_EXTENSION_MODE = 0o100755


@dataclass(frozen=True)
class ArchiveInfo:
    """A written package and the numbers Lambda's limits are about."""

    path: Path
    sha256: str
    unzipped_bytes: int
    zipped_bytes: int
    file_count: int


def tree_size(root: Path) -> int:
    """Sum of file sizes: what Lambda counts against the 250 MB unzipped limit."""
    return sum(path.stat().st_size for path in tree_files(root))


def write_zip(root: Path, destination: Path, compresslevel: int) -> ArchiveInfo:
    """Zip `root` with sorted entries, fixed timestamps and fixed permissions."""
    named = sorted((path.relative_to(root).as_posix(), path) for path in tree_files(root))
    files = [path for _, path in named]
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in named:
            entry = zipfile.ZipInfo(name, date_time=_FIXED_DATE_TIME)
            entry.create_system = _UNIX_SYSTEM
            mode = _EXTENSION_MODE if path.suffix == ".so" else _FILE_MODE
            entry.external_attr = mode << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes(), compresslevel=compresslevel)
    return ArchiveInfo(
        path=destination,
        sha256=sha256_of(destination),
        unzipped_bytes=sum(path.stat().st_size for path in files),
        zipped_bytes=destination.stat().st_size,
        file_count=len(files),
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
