"""The on-disk index store on its own: random vectors, no model (qa/index_store.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from embeddings.index import VectorIndex
from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from qa.files import sha256_file
from qa.index_store import (
    CURRENT,
    IndexData,
    IndexParams,
    Sentence,
    current_version,
    load_index,
    save_index,
    stored_vectors,
)
from qa.lexical import LexicalIndex
from qa.records import ChunkTable, DocumentTable, RowLists, article_infos
from qa.types import Chunk, Document

PARAMS = IndexParams(model="random", chunk_tokens=64, chunk_overlap_sentences=0)
DIM = 8


def make_data(n_docs: int = 3, seed: int = 0) -> IndexData:
    rng = np.random.default_rng(seed)
    docs, chunks, sentences, members = [], [], [], []
    for i in range(n_docs):
        text = f"लेख {i} का पहला वाक्य। लेख {i} का दूसरा वाक्य।"
        docs.append(Document(id=f"d{i}", title=f"शीर्षक {i}", text=text, source=f"d{i}.txt"))
        chunks.append(Chunk(id=f"d{i}#0", doc_id=f"d{i}", text=text, start=0, end=len(text)))
        cut = text.index("।") + 1
        rows = []
        for start, end in ((0, cut), (cut + 1, len(text))):
            rows.append(len(sentences))
            sentences.append(Sentence(f"d{i}", start, end, 0))
        members.append(tuple(rows))

    def unit(n: int) -> np.ndarray:
        v = rng.normal(size=(n, DIM)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    vectors, sentence_vectors = unit(len(chunks)), unit(len(sentences))
    return IndexData(
        {d.id: d for d in docs},
        tuple(chunks),
        tuple(members),
        tuple(sentences),
        vectors,
        sentence_vectors,
        VectorIndex.build(vectors),
        VectorIndex.build(sentence_vectors),
        LexicalIndex.build([c.text for c in chunks]),
    )


def manifest() -> dict[str, object]:
    return {
        "format_version": 2,
        "model": "random",
        "chunk_tokens": 64,
        "chunk_overlap_sentences": 0,
        "dim": DIM,
    }


def test_round_trip_keeps_every_row_in_step(tmp_path: Path) -> None:
    data = make_data()
    version, written = save_index(tmp_path, data, manifest())
    assert (tmp_path / CURRENT).read_text().strip() == version.name and set(written["files"])
    loaded, read = load_index(tmp_path, PARAMS, DIM)
    assert read == written
    assert loaded.documents == data.documents and tuple(loaded.chunks) == data.chunks
    assert tuple(loaded.members) == data.members and tuple(loaded.sentences) == data.sentences
    assert loaded.chunks[-1] == data.chunks[-1] and loaded.chunks[1:] == data.chunks[1:]
    np.testing.assert_array_equal(loaded.vectors, data.vectors)
    np.testing.assert_array_equal(loaded.sentence_vectors, data.sentence_vectors)
    assert len(loaded.dense) == 3 and len(loaded.sentence_index) == 6 and len(loaded.lexical) == 3


def test_loaded_vectors_are_mapped_and_a_file_changed_under_them_is_an_error_not_a_crash(
    tmp_path: Path,
) -> None:
    data = make_data()
    save_index(tmp_path / "flat", data, manifest())
    loaded, _ = load_index(tmp_path / "flat", PARAMS, DIM)
    assert isinstance(loaded.vectors, np.memmap) and isinstance(loaded.sentence_vectors, np.memmap)
    vectors, sentence_vectors = stored_vectors(loaded)  # copied from the flat indexes: exact, in memory
    assert not isinstance(vectors, np.memmap) and not isinstance(sentence_vectors, np.memmap)
    np.testing.assert_array_equal(vectors, data.vectors)
    np.testing.assert_array_equal(sentence_vectors, data.sentence_vectors)
    assert stored_vectors(data)[0] is data.vectors  # a built index's arrays are already in memory
    # IVF-SQ8 holds its rows at 8 bits: the files are read again, and a changed one is refused.
    ivf = replace(data, dense=VectorIndex.build(data.vectors, "ivf-sq8"))
    version, _ = save_index(tmp_path / "ivf", ivf, manifest())
    loaded, _ = load_index(tmp_path / "ivf", PARAMS, DIM)
    assert loaded.dense.kind == "ivf-sq8"
    np.testing.assert_array_equal(stored_vectors(loaded)[0], data.vectors)
    with open(version / "vectors.npy", "r+b") as f:  # truncated under the running process
        f.truncate(100)
    with pytest.raises(IndexCorruptError, match="vectors.npy changed since"):
        stored_vectors(loaded)
    np.save(version / "vectors.npy", np.zeros((5, DIM), dtype=np.float32))  # replaced by other rows
    with pytest.raises(IndexCorruptError, match=r"vectors.npy changed since .*\(5, 8\) rows"):
        stored_vectors(loaded)


def test_a_new_version_goes_live_and_the_one_before_is_kept_one_round(tmp_path: Path) -> None:
    first, _ = save_index(tmp_path, make_data(seed=1), manifest())
    second, _ = save_index(tmp_path, make_data(seed=2), manifest())
    assert current_version(tmp_path) == second and first.is_dir()  # a reader may still be loading it
    third, _ = save_index(tmp_path, make_data(seed=3), manifest())
    assert current_version(tmp_path) == third and second.is_dir() and not first.exists()


def test_refuses_missing_mismatched_and_corrupt_indexes(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="qa build"):
        load_index(tmp_path, PARAMS, DIM)
    version, _ = save_index(tmp_path, make_data(), manifest())
    with pytest.raises(IndexMismatchError, match="chunk_tokens"):
        load_index(tmp_path, IndexParams("random", 128, 0), DIM)
    with pytest.raises(IndexMismatchError, match="dim"):
        load_index(tmp_path, PARAMS, DIM * 2)
    with open(version / "vectors.npy", "r+b") as fh:  # one flipped byte
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 0xFF]))
    with pytest.raises(IndexCorruptError, match="vectors.npy"):
        load_index(tmp_path, PARAMS, DIM)


def test_rows_out_of_step_are_refused() -> None:
    data = make_data()
    with pytest.raises(ValueError, match="sentence lists"):
        IndexData(
            data.documents,
            data.chunks,
            data.members[:-1],
            data.sentences,
            data.vectors,
            data.sentence_vectors,
            data.dense,
            data.sentence_index,
            data.lexical,
        )


def test_a_loaded_index_keeps_its_texts_on_disk_and_reads_them_when_asked(tmp_path: Path) -> None:
    data = make_data(n_docs=5)
    version, _ = save_index(tmp_path, data, manifest())
    loaded, _ = load_index(tmp_path, PARAMS, DIM)
    assert isinstance(loaded.documents, DocumentTable) and isinstance(loaded.chunks, ChunkTable)
    # No text is held: the tables are arrays of offsets and the articles' ids.
    assert not any(isinstance(v, str) and "वाक्य" in v for v in vars(loaded.chunks).values())
    infos = article_infos(loaded.documents, loaded.chunks)
    assert infos == article_infos(data.documents, data.chunks)
    assert [(a.id, a.title, a.passages) for a in infos] == [(f"d{i}", f"शीर्षक {i}", 1) for i in range(5)]
    assert loaded.chunks[3].text == data.chunks[3].text and loaded.documents["d4"] == data.documents["d4"]
    assert "d9" not in loaded.documents and list(loaded.documents) == [f"d{i}" for i in range(5)]
    with pytest.raises(IndexError):
        loaded.chunks[5]
    # The file replaced under the running process (another writer, a restore): an error naming it, no crash.
    lines = (version / "documents.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    with open(version / "documents.jsonl", "r+", encoding="utf-8") as f:
        f.truncate(0)
        f.write("".join(reversed(lines)))
    with pytest.raises(IndexCorruptError, match="documents.jsonl changed since"):
        loaded.chunks[0]
    with open(version / "documents.jsonl", "r+b") as f:
        f.truncate(10)
    with pytest.raises(IndexCorruptError, match="documents.jsonl changed since"):
        loaded.documents["d1"]
    # Its descriptor is closed as soon as the index is dropped (reloads after ingests must not pile them up).
    fd = loaded.documents._read.__wrapped__.fd  # type: ignore[attr-defined]
    os.fstat(fd)
    del loaded
    with pytest.raises(OSError):
        os.fstat(fd)


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        ("chunks.jsonl", lambda t: t.replace('"d1#0"', '"d2#0"'), "is not a passage"),
        ("chunks.jsonl", lambda t: t.replace('"doc_id": "d1"', '"doc_id": "dx"'), "is not a passage"),
        ("sentences.jsonl", lambda t: t.replace('"start"', '"begin"'), "is not a sentence row"),
        (
            "sentences.jsonl",
            lambda t: t.replace('"start": 0', '"start": "0"'),
            "line 1 is not a sentence row",
        ),
        (
            "sentences.jsonl",
            lambda t: "\n".join(t.split("\n")[:2] + ["{not json"] + t.split("\n")[3:]),
            "line 3 is not JSON",
        ),
        ("chunks.jsonl", lambda t: t.replace("\n", "\n1, 2\n", 1), "line 2 is not JSON"),
        (
            "chunks.jsonl",
            lambda t: t.replace('"sentences": [', '"sentences": ["x", ', 1),
            "line 1 is not a passage",
        ),
        ("documents.jsonl", lambda t: t.replace('"title"', '"heading"'), "is not an article"),
        ("documents.jsonl", lambda t: t.replace('"id": "d2"', '"id": "d1"'), "article id twice"),
    ],
)
def test_record_files_that_are_not_what_the_store_writes_are_refused(
    tmp_path: Path, name: str, edit: Callable[[str], str], message: str
) -> None:
    """Checked files edited with their checksums updated (as a hand edit that also fixed the manifest)."""
    version, written = save_index(tmp_path, make_data(), manifest())
    path = version / name
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    written["files"][name] = sha256_file(path)
    (version / "manifest.json").write_text(json.dumps(written), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match=f"{name} line .*{message}|{message}") as caught:
        load_index(tmp_path, PARAMS, DIM)
    assert "qa build" in str(caught.value)


def test_row_lists_and_their_inverse() -> None:
    lists = RowLists.of([(0, 1), (), (1, 2, 3)])
    assert len(lists) == 3 and lists[2] == (1, 2, 3) and lists[1] == () and lists[-1] == (1, 2, 3)
    assert list(lists.inverse(5)) == [(0,), (0, 2), (2,), (2,), ()]
    assert RowLists.of(lists) is lists and lists[0:2] == ((0, 1), ())


def test_json_lines_are_read_in_blocks_and_a_bad_line_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.records

    monkeypatch.setattr(qa.records, "JSON_BLOCK_LINES", 2)
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(f'{{"n": {i}}}\n' for i in range(7)), encoding="utf-8")
    assert list(qa.records._json_lines(path)) == [(i + 1, {"n": i}) for i in range(7)]
    path.write_text('{"n": 0}\n{"n": 1}\n[]\n{"n": 3}\n{"n": 4}, 5\n', encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="rows.jsonl line 5 is not JSON"):
        list(qa.records._json_lines(path))
