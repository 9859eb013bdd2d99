"""Atomic writes and file hashes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from qa.files import sha256_file, write_atomic


def test_atomic_write_replaces_content_with_an_ordinary_mode(tmp_path: Path) -> None:
    target = tmp_path / "article.txt"
    target.write_text("old", encoding="utf-8")
    write_atomic(target, "नया पाठ")
    assert target.read_text(encoding="utf-8") == "नया पाठ"
    mask = os.umask(0o022)
    os.umask(mask)
    # Not mkstemp's private 0600: what an ordinary open() would give (the corpus is shared, not secret).
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["article.txt"]  # no temp file left behind


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # more than one read block
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
