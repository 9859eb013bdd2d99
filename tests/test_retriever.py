"""Hybrid retriever and its index folder: manifest, mismatch, corruption, atomic writes, incremental ingest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import CountingEncoder

from embeddings.encoder import HashingEncoder
from qa.chunking import split_sentences
from qa.corpus import load_corpus, parse_article
from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from qa.index_build import index_texts
from qa.retriever import CHECKSUMMED, CURRENT, IndexParams, Retriever, current_version
from qa.types import Document

REPO = Path(__file__).resolve().parent.parent
HAWAII_HI = "हवाई में हुई बैठक की सह-अध्यक्षता किसने की?"
HAWAII_EN = "Who co-chaired the meeting in Hawaii?"


def _params(encoder, chunk_tokens: int = 160) -> IndexParams:  # type: ignore[no-untyped-def]
    return IndexParams(model=encoder.model_id, chunk_tokens=chunk_tokens, chunk_overlap_sentences=1)


def _naval_exercise() -> Document:
    """An article the seed corpus lacks, for ingests."""
    return parse_article(
        "date: 2026-02-01\ntitle: नौसेना अभ्यास\n\nभारतीय नौसेना ने समुद्र शक्ति-26 अभ्यास "
        "विशाखापत्तनम में किया। इसमें बारह युद्धपोत शामिल हुए।",
        doc_id="naval-exercise",
        source="test",
    )


@pytest.fixture()
def built(seed_corpus: Path, tmp_path: Path, hashing_encoder):  # type: ignore[no-untyped-def]
    docs = load_corpus(seed_corpus)
    retriever = Retriever.build(docs, hashing_encoder, _params(hashing_encoder))
    retriever.save(tmp_path / "index")
    return retriever, tmp_path / "index"


def test_build_save_load_roundtrip_and_manifest(built, hashing_encoder) -> None:  # type: ignore[no-untyped-def]
    retriever, index_dir = built
    loaded = Retriever.load(index_dir, hashing_encoder, _params(hashing_encoder))
    assert [c.text for c in loaded.chunks] == [c.text for c in retriever.chunks]
    manifest = json.loads((current_version(index_dir) / "manifest.json").read_text())
    assert manifest["format_version"] == 2
    assert manifest["model"] == "hashing:256" and manifest["dim"] == 256
    assert manifest["chunk_tokens"] == 160 and manifest["chunk_overlap_sentences"] == 1
    assert manifest["counts"] == {
        "documents": 2,
        "chunks": len(retriever.chunks),
        "sentences": len(retriever.sentences),
    }
    assert set(manifest["files"]) == set(CHECKSUMMED)
    assert len(manifest["corpus_fingerprint"]) == 64
    # Every chunk's text is the exact slice of its document (offsets survive the round trip).
    for c in loaded.chunks:
        assert loaded.documents[c.doc_id].text[c.start : c.end] == c.text
    assert tuple(loaded.sentences) == tuple(retriever.sentences)
    assert tuple(loaded.members) == tuple(retriever.members)
    assert np.array_equal(loaded.sentence_vectors, retriever.sentence_vectors)
    assert [h.chunk.id for h in loaded.search(HAWAII_HI, 5)] == [
        h.chunk.id for h in retriever.search(HAWAII_HI, 5)
    ]


def test_sentence_rows_cover_each_chunk_exactly_once_per_sentence(built) -> None:  # type: ignore[no-untyped-def]
    retriever, _ = built
    assert len(set(retriever.sentences)) == len(retriever.sentences)  # overlap sentences are shared rows
    shared = 0
    for chunk, rows in zip(retriever.chunks, retriever.members):
        assert rows, chunk.id
        texts = [
            retriever.documents[chunk.doc_id].text[retriever.sentences[j].start : retriever.sentences[j].end]
            for j in rows
        ]
        # The sentences, in order, are the chunk's text cut at sentence ends.
        assert [chunk.text[s:e] for s, e in split_sentences(chunk.text)] == texts
        assert all(retriever.sentences[j].doc_id == chunk.doc_id for j in rows)
        shared += sum(1 for j in rows if sum(j in m for m in retriever.members) > 1)
    assert shared > 0  # the seed articles have multi-chunk paragraphs, so the 1-sentence overlap is exercised
    # Each row's vector encodes the sentence with the sentence before it in its article (none for the first).
    enc = retriever.encoder
    for j in (retriever.members[0][0], retriever.members[0][1]):
        sent = retriever.sentences[j]
        doc_text = retriever.documents[sent.doc_id].text
        before = [s for s in retriever.sentences if s.doc_id == sent.doc_id and s.end <= sent.start]
        assert sent.context_start == (max(s.start for s in before) if before else sent.start)
        assert np.allclose(
            retriever.sentence_vectors[j], enc.encode_passages([doc_text[sent.context_start : sent.end]])[0]
        )


def test_best_sentence_lifts_a_chunk_and_weight_zero_is_chunk_cosine(built) -> None:  # type: ignore[no-untyped-def]
    retriever, _ = built
    query = HAWAII_HI
    q = retriever.encoder.encode_queries([query])[0]
    signals = retriever.signals(query, len(retriever.chunks), mode="dense")
    cands = list(signals.candidates)
    assert cands == list(range(len(retriever.chunks)))  # the seed index is smaller than the candidate pool
    w = retriever.fusion.sentence_weight
    assert 0 < w < 1
    whole = np.asarray(retriever.vectors) @ q
    best = np.array(
        [max(float(retriever.sentence_vectors[j] @ q) for j in rows) for rows in retriever.members]
    )
    assert np.allclose(signals.scores(retriever.fusion, "dense")[0], (1 - w) * whole + w * best, atol=1e-6)
    retriever.fusion = replace(retriever.fusion, sentence_weight=0.0)
    assert np.allclose(signals.scores(retriever.fusion, "dense")[0], whole, atol=1e-6)
    top = retriever.search(query, 1, mode="dense")[0]
    assert top.chunk.id == retriever.chunks[int(np.argmax(whole))].id


def test_sentence_index_alone_brings_a_chunk_into_the_candidates(built) -> None:  # type: ignore[no-untyped-def]
    retriever, _ = built
    # With one candidate from each index, the chunk holding the best sentence is scored even when the
    # chunk index's own single candidate is another chunk.
    retriever.fusion = replace(retriever.fusion, candidates=1)
    q = retriever.encoder.encode_queries([HAWAII_HI])[0]
    best_sentence = int(np.argmax(np.asarray(retriever.sentence_vectors) @ q))
    holders = {retriever.chunks[i].id for i, rows in enumerate(retriever.members) if best_sentence in rows}
    hits = retriever.search(HAWAII_HI, 10, mode="dense")
    assert holders <= {h.chunk.id for h in hits}


def test_hindi_question_finds_the_hawaii_passage_with_hashing_encoder(built) -> None:  # type: ignore[no-untyped-def]
    retriever, _ = built
    hits = retriever.search(HAWAII_HI, 3)
    assert "अशुतोष दीक्षित" in hits[0].chunk.text
    assert hits[0].score >= hits[1].score >= hits[2].score
    assert hits[0].title and hits[0].date == "2025-11-06"


def test_search_modes_and_edge_cases(built) -> None:  # type: ignore[no-untyped-def]
    retriever, _ = built
    assert "अशुतोष दीक्षित" in retriever.search(HAWAII_HI, 1, mode="lexical")[0].chunk.text
    assert len(retriever.search(HAWAII_HI, 1000)) <= len(retriever.chunks)
    assert retriever.search(HAWAII_HI, 0) == []


def test_mismatched_index_raises_with_rebuild_hint(built) -> None:  # type: ignore[no-untyped-def]
    _, index_dir = built
    other_model = HashingEncoder(128)
    with pytest.raises(IndexMismatchError, match="qa build"):
        Retriever.load(index_dir, other_model, _params(other_model))
    enc = HashingEncoder(256)
    with pytest.raises(IndexMismatchError, match="chunk_tokens"):
        Retriever.load(index_dir, enc, _params(enc, chunk_tokens=100))


def test_missing_and_corrupt_index(tmp_path: Path, built, hashing_encoder) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IndexMissingError, match="qa build"):
        Retriever.load(tmp_path / "empty", hashing_encoder, _params(hashing_encoder))
    _, index_dir = built
    version = current_version(index_dir)
    vectors = np.load(version / "vectors.npy")
    np.save(version / "vectors.npy", vectors[:, ::-1].copy())  # same shape, other bytes
    with pytest.raises(IndexCorruptError, match="checksum"):
        Retriever.load(index_dir, hashing_encoder, _params(hashing_encoder))
    (version / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match="manifest"):
        Retriever.load(index_dir, hashing_encoder, _params(hashing_encoder))
    (index_dir / CURRENT).write_text("v-does-not-exist")
    with pytest.raises(IndexCorruptError):
        Retriever.load(index_dir, hashing_encoder, _params(hashing_encoder))


def test_an_ingest_keeps_the_ivf_centroids_and_a_build_trains_its_own(
    seed_corpus: Path, tmp_path: Path, hashing_encoder, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Above FLAT_MAX_ROWS (lowered here so the seed corpus is "large") an ingest reuses the coarse centroids
    of the index it replaces, a loaded one included; a fresh build trains its own."""
    import faiss

    import embeddings.index

    monkeypatch.setattr(embeddings.index, "FLAT_MAX_ROWS", 2)

    def centroids(index) -> np.ndarray:  # type: ignore[no-untyped-def]
        q = faiss.downcast_index(index._index.quantizer)
        return faiss.rev_swig_ptr(q.get_xb(), q.ntotal * q.d).copy()

    docs = load_corpus(seed_corpus)
    base = Retriever.build(docs, hashing_encoder, _params(hashing_encoder))
    assert base.dense.kind == base.sentence_index.kind == "ivf-sq8"
    base.save(tmp_path / "index")
    loaded = Retriever.load(tmp_path / "index", hashing_encoder, _params(hashing_encoder))
    extra = _naval_exercise()
    updated, _ = loaded.with_documents([extra])
    np.testing.assert_array_equal(centroids(updated.dense), centroids(base.dense))
    np.testing.assert_array_equal(centroids(updated.sentence_index), centroids(base.sentence_index))
    fresh = Retriever.build([*docs, extra], hashing_encoder, _params(hashing_encoder))
    assert not np.array_equal(centroids(fresh.dense), centroids(base.dense))
    hits = updated.search("समुद्र शक्ति-26 अभ्यास विशाखापत्तनम", 3)
    assert hits[0].chunk.doc_id == "naval-exercise"


def test_an_ingest_chunks_only_the_articles_that_changed(seed_corpus: Path, tmp_path: Path) -> None:
    """Unchanged articles keep their chunks and sentence rows (no token counts), loaded index or built one,
    and the rows are exactly those of a build from scratch."""
    encoder = CountingEncoder()
    docs = load_corpus(seed_corpus)
    Retriever.build(docs, encoder, _params(encoder)).save(tmp_path / "index")
    loaded = Retriever.load(tmp_path / "index", encoder, _params(encoder))
    changed = replace(docs[0], text=docs[0].text + "\n\nयह अनुच्छेद बाद में जोड़ा गया।")
    for previous in (loaded, Retriever.build(docs, encoder, _params(encoder))):
        encoder.counted.clear()
        updated, _ = previous.with_documents([_naval_exercise(), changed])
        assert encoder.counted and not any(t in docs[1].text for t in encoder.counted if t)  # docs[1] kept
        assert any(t in changed.text for t in encoder.counted if t)
        fresh = Retriever.build([*docs[1:], changed, _naval_exercise()], encoder, _params(encoder))
        assert tuple(updated.chunks) == tuple(fresh.chunks)
        assert tuple(updated.members) == tuple(fresh.members)
        assert tuple(updated.sentences) == tuple(fresh.sentences)
    # Other chunking parameters: everything is chunked again.
    encoder.counted.clear()
    Retriever.build(docs, encoder, _params(encoder, chunk_tokens=96), previous=loaded)
    assert any(t in docs[1].text for t in encoder.counted if t)


def test_incremental_ingest_embeds_only_new_chunks(seed_corpus: Path, tmp_path: Path) -> None:
    encoder = CountingEncoder()
    docs = load_corpus(seed_corpus)
    base = Retriever.build(docs, encoder, _params(encoder))
    # Every distinct chunk and sentence text once: a one-sentence chunk and its sentence share a vector.
    assert encoder.embedded == base.embedded == len(set(index_texts(base.data)))
    encoder.embedded = 0
    new_doc = _naval_exercise()
    updated, report = base.with_documents([new_doc])
    new_chunks = [c for c in updated.chunks if c.doc_id == "naval-exercise"]
    assert len(new_chunks) >= 1
    assert (
        encoder.embedded
        == report.texts_embedded
        == len(set(index_texts(updated.data)) - set(index_texts(base.data)))
    )
    assert report.added_documents == ("naval-exercise",) and report.chunks_added == len(new_chunks)
    assert report.total_chunks == len(base.chunks) + len(new_chunks)
    # Re-ingesting the same article changes nothing and embeds nothing.
    encoder.embedded = 0
    again, report = updated.with_documents([new_doc])
    assert report.unchanged_documents == ("naval-exercise",) and encoder.embedded == 0
    assert "समुद्र शक्ति" in again.search("समुद्र शक्ति अभ्यास कहाँ हुआ?", 1)[0].chunk.text
    # A one-sentence article is one chunk and one sentence of the same text: embedded once.
    encoder.embedded = 0
    short = parse_article("वायुसेना ने जोधपुर में नया हवाई अड्डा खोला।", doc_id="short", source="test")
    _, report = again.with_documents([short])
    assert encoder.embedded == report.texts_embedded == 1


def test_serving_never_reads_the_vector_files(built, hashing_encoder) -> None:  # type: ignore[no-untyped-def]
    """The vector files are memory-mapped and answers are re-scored from the FAISS rows: files truncated
    under a running server change no answer (a mapped page read past the end would kill it with SIGBUS),
    and an ingest reuses the flat indexes' exact rows instead of the files."""
    from qa.index_store import current_version

    _, index_dir = built
    loaded = Retriever.load(index_dir, hashing_encoder, _params(hashing_encoder))
    question = "हवाई में हुई बैठक की सह-अध्यक्षता किसने की?"
    before = [(h.chunk.id, round(h.score, 6)) for h in loaded.search(question, 5)]
    version = current_version(index_dir)
    for name in ("vectors.npy", "sentence_vectors.npy"):
        with open(version / name, "r+b") as f:
            f.truncate(64)
    assert [(h.chunk.id, round(h.score, 6)) for h in loaded.search(question, 5)] == before
    extra = parse_article("भारतीय नौसेना ने विशाखापत्तनम में अभ्यास किया।", doc_id="extra", source="test")
    updated, report = loaded.with_documents([extra])
    assert report.added_documents == ("extra",)
    # The same passages first (scores move a little: BM25 counts the new article too).
    assert [h.chunk.id for h in updated.search(question, 5)] == [chunk_id for chunk_id, _ in before]


def test_each_batch_holds_texts_of_like_length_and_the_vectors_are_those_of_any_order(
    seed_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa import index_build

    monkeypatch.setattr(index_build, "EMBED_BATCH", 8)  # several blocks from the two seed articles

    class Recording(CountingEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[list[int]] = []

        def encode_passages(self, texts, *, show_progress=False):  # type: ignore[no-untyped-def]
            self.calls.append([self.count_tokens(t) for t in texts])
            return super().encode_passages(texts)

    encoder = Recording()
    docs = load_corpus(seed_corpus)
    built = Retriever.build(docs, encoder, _params(encoder))
    everything = sorted(n for call in encoder.calls for n in call)
    # Each call is one block of the texts sorted by tokens (the blocks themselves run in a mixed order).
    blocks = [everything[i : i + 8] for i in range(0, len(everything), 8)]
    assert len(blocks) > 1 and sorted(sorted(call) for call in encoder.calls) == blocks
    plain = HashingEncoder(256)
    for text, vector in zip(index_texts(built.data), np.concatenate([built.vectors, built.sentence_vectors])):
        np.testing.assert_allclose(vector, plain.encode_passages([text])[0], atol=1e-6)


_KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from embeddings.encoder import HashingEncoder
    from qa.corpus import load_corpus, parse_article
    from qa.retriever import IndexParams, Retriever

    corpus, index_dir = sys.argv[1], sys.argv[2]
    enc = HashingEncoder(256)
    params = IndexParams(model=enc.model_id, chunk_tokens=160, chunk_overlap_sentences=1)
    docs = load_corpus(corpus) + [parse_article("एक नया लेख जो कभी सहेजा नहीं जाएगा।", doc_id="doomed", source="x")]
    retriever = Retriever.build(docs, enc, params)
    real_save = np.save

    def crash_midway(path, arr, *a, **k):
        with open(path, "wb") as f:
            f.write(b"half a file")
        os.kill(os.getpid(), signal.SIGKILL)  # the process dies mid-write, as in a power cut

    np.save = crash_midway
    retriever.save(index_dir)
""")


def test_killed_build_leaves_previous_index_usable(built, seed_corpus: Path, hashing_encoder) -> None:  # type: ignore[no-untyped-def]
    before, index_dir = built
    live = (index_dir / CURRENT).read_text()
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_SCRIPT, str(seed_corpus), str(index_dir)],
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert (index_dir / CURRENT).read_text() == live
    assert len([p for p in index_dir.iterdir() if p.name.startswith("v-")]) == 2  # the orphan is there
    after = Retriever.load(index_dir, hashing_encoder, _params(hashing_encoder))
    assert after.manifest["corpus_fingerprint"] == before.manifest["corpus_fingerprint"]
    assert "doomed" not in after.documents
    # The next successful write cleans the orphan up.
    after.save(index_dir)
    assert len([p for p in index_dir.iterdir() if p.name.startswith("v-")]) <= 2
    assert os.path.isdir(current_version(index_dir))


@pytest.mark.slow
def test_real_model_puts_hawaii_passage_first(default_encoder, seed_corpus: Path) -> None:  # type: ignore[no-untyped-def]
    docs = load_corpus(seed_corpus)
    retriever = Retriever.build(docs, default_encoder, _params(default_encoder))
    hits = retriever.search(HAWAII_HI, 5)
    assert "अशुतोष दीक्षित" in hits[0].chunk.text
    english = retriever.search(HAWAII_EN, 5)
    assert any("अशुतोष दीक्षित" in h.chunk.text for h in english[:3])


def test_sentence_files_are_checked_and_an_old_format_index_is_refused(built, hashing_encoder) -> None:  # type: ignore[no-untyped-def]
    _, index_dir = built
    version = current_version(index_dir)
    manifest_path = version / "manifest.json"
    good = manifest_path.read_text()
    # A format-1 index (before sentence vectors) must be rebuilt, and the error says how.
    manifest = json.loads(good)
    manifest["format_version"] = 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format 1.*qa build"):
        Retriever.load(index_dir, hashing_encoder, _params(hashing_encoder))
    # A manifest that does not vouch for every file is not trusted.
    manifest = json.loads(good)
    del manifest["files"]["sentences.faiss"]
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="sentences.faiss"):
        Retriever.load(index_dir, hashing_encoder, _params(hashing_encoder))
    # A damaged sentence vector file is caught by its checksum.
    manifest_path.write_text(good)
    vectors = np.load(version / "sentence_vectors.npy")
    np.save(version / "sentence_vectors.npy", vectors[::-1].copy())
    with pytest.raises(IndexCorruptError, match="sentence_vectors.npy"):
        Retriever.load(index_dir, hashing_encoder, _params(hashing_encoder))


def test_open_or_build_replaces_an_old_format_index(built, seed_corpus: Path, hashing_encoder) -> None:  # type: ignore[no-untyped-def]
    from qa.pipeline import open_or_build

    _, index_dir = built
    manifest_path = current_version(index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 1
    manifest_path.write_text(json.dumps(manifest))
    retriever = open_or_build(index_dir, load_corpus(seed_corpus), hashing_encoder, _params(hashing_encoder))
    assert retriever.manifest["format_version"] == 2 and retriever.sentences
    assert (
        Retriever.load(index_dir, hashing_encoder, _params(hashing_encoder)).manifest["format_version"] == 2
    )
