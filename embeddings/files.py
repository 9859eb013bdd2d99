"""File helpers the whole project shares (a leaf module; `qa.files` re-exports them): a file's sha256 (also
remembered by size and modification time), and publishing a finished folder in place of an old one."""

from __future__ import annotations

import hashlib
import json
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


def file_stamp(path: Path) -> list[int]:
    """[size, modification time in ns] of a file: what make and rsync compare to tell a file has changed."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def sha256_remembered(path: Path, memo: Path) -> str:
    """`sha256_file(path)`, remembered in the JSON file `memo` under the file's path and stamp: a model of
    half a gigabyte costs about a second to hash on the 2-core target, at every start otherwise. A changed
    file has a new stamp and is hashed again."""
    key = str(Path(path).resolve())
    stamp = file_stamp(path)
    try:
        known = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    entry = known.get(key) if isinstance(known, dict) else None
    if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("sha256"), str):
        return str(entry["sha256"])
    digest = sha256_file(path)
    known = known if isinstance(known, dict) else {}
    known[key] = {"stamp": stamp, "sha256": digest}
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{memo.name}.", dir=memo.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(known, fh)
        os.replace(tmp, memo)
    except OSError:
        pass  # a read-only cache: hash again next time
    return digest


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
