"""File helpers the whole project shares (a leaf module; `qa.files` re-exports them): a file's sha256, and
publishing a finished folder in place of an old one."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def publish_folder(staging: Path, target: Path) -> None:
    """Rename the finished `staging` folder to `target`, replacing an incomplete or outdated one, so a reader
    sees the old folder or the new one, never half of either."""
    if target.exists():
        # A rename cannot replace a non-empty folder: move the old one aside first, delete it after.
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / "folder")
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)
