"""`--engine ray`: embedding on a local Ray cluster gives the index a local build gives (qa/ray_engine.py)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.config import DEFAULT_MODEL, Settings

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = ["हवाई में हुई बैठक की सह-अध्यक्षता किसने की?", "Who is the US Secretary of the Army?", "वायु अभ्यास"]
NEW_ARTICLE = """title: भारत-श्रीलंका नौसेना अभ्यास संपन्न
date: 2026-03-02

भारत और श्रीलंका की नौसेनाओं का संयुक्त अभ्यास कोलंबो के पास संपन्न हुआ। अभ्यास का नेतृत्व कमोडोर अरविंद रघुनाथन ने किया।
"""


def test_without_ray_the_engine_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from qa.ray_engine import EngineError, embedder_for

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(EngineError, match=r"samachar-qa\[ray\]"):
        embedder_for("ray", DEFAULT_MODEL, tmp_path)
    assert embedder_for("local", DEFAULT_MODEL, tmp_path) is None


def test_a_bad_file_fails_the_ray_build_by_name_and_the_index_stays(
    seed_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from qa.cli import main

    index = ["--index", str(tmp_path / "index"), "--model", "hashing:64"]
    assert main(["build", "--corpus", str(seed_corpus), *index]) == 0
    live = (tmp_path / "index" / "CURRENT").read_text()
    (seed_corpus / "broken.txt").write_bytes(b"\x00\x01\x02binary\xff\xfe")
    capsys.readouterr()
    assert main(["build", "--engine", "ray", "--corpus", str(seed_corpus), *index]) == 1
    assert "broken.txt" in capsys.readouterr().err
    if importlib.util.find_spec("pyarrow") is not None:  # the same from a URI (file://, as s3:// would be)
        assert main(["build", "--engine", "ray", "--corpus", seed_corpus.as_uri(), *index]) == 1
        assert seed_corpus.as_uri() + "/broken.txt" in capsys.readouterr().err
    assert (tmp_path / "index" / "CURRENT").read_text() == live


def test_a_corpus_uri_is_read_by_the_project_s_rules(seed_corpus: Path, tmp_path: Path) -> None:
    """Any path Ray Data reads (through pyarrow's filesystems; file:// here, s3:// the same way): the same
    documents as the local folder, the same files skipped, a bad file named by its URI."""
    pytest.importorskip("pyarrow")
    from qa.corpus import load_corpus
    from qa.errors import CorpusError
    from qa.ray_engine import read_corpus

    (seed_corpus / "notes.pdf").write_bytes(b"%PDF")  # skipped with a warning
    (seed_corpus / ".hidden.txt").write_text("छिपा", encoding="utf-8")  # skipped
    (seed_corpus / "more").mkdir()
    (seed_corpus / "more" / "naval.md").write_text(NEW_ARTICLE, encoding="utf-8")
    uri = seed_corpus.as_uri() + "/"
    read, local = read_corpus(uri, max_bytes=5_000_000), load_corpus(seed_corpus)
    assert [d.id for d in read] == [d.id for d in local] and len(read) == 3
    assert [(d.title, d.text, d.date) for d in read] == [(d.title, d.text, d.date) for d in local]
    assert read[-1].source == seed_corpus.as_uri() + "/more/naval.md"
    with pytest.raises(CorpusError, match="the limit is 100 bytes") as too_big:
        read_corpus(uri, max_bytes=100)
    assert too_big.value.path.startswith(seed_corpus.as_uri())
    (seed_corpus / "more" / "broken.txt").write_bytes(b"\x00\x01binary")
    with pytest.raises(CorpusError, match="binary") as bad:
        read_corpus(uri, max_bytes=5_000_000)
    assert bad.value.path == seed_corpus.as_uri() + "/more/broken.txt"
    for where, reason in (
        ((tmp_path / "nowhere").as_uri(), "does not exist"),
        ((seed_corpus / "more" / "naval.md").as_uri(), "not a folder"),
        ("nosuchfs://bucket/news", "cannot be read"),
    ):
        with pytest.raises(CorpusError, match=reason):
            read_corpus(where, max_bytes=5_000_000)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no articles"):
        read_corpus((tmp_path / "empty").as_uri(), max_bytes=5_000_000)


def test_only_a_ray_build_takes_a_corpus_uri(
    seed_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from qa.cli import main

    index = ["--index", str(tmp_path / "index"), "--model", "hashing:64"]
    assert main(["build", "--corpus", seed_corpus.as_uri(), *index]) == 1
    assert "with --engine ray" in capsys.readouterr().err
    assert main(["articles", "--corpus", "s3://bucket/news", *index]) == 1
    assert "only `qa build --engine ray` reads a corpus from a URI" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


def _write_shard(path: Path, rows: list[int], dim: int = 3) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    vectors = pa.array([[float(r)] * dim for r in rows], type=pa.list_(pa.float32()))
    pq.write_table(pa.table({"row": pa.array(rows, type=pa.int64()), "vector": vectors}), path)


def test_the_merge_places_shards_by_row_and_refuses_a_missing_or_duplicated_row(tmp_path: Path) -> None:
    from qa.ray_engine import EngineError, merge_shards

    _write_shard(tmp_path / "a.parquet", [3, 0])
    _write_shard(tmp_path / "b.parquet", [1, 4, 2])
    merged = merge_shards(tmp_path, 5)
    assert merged.dtype == np.float32 and merged.shape == (5, 3)
    np.testing.assert_array_equal(merged[:, 0], [0, 1, 2, 3, 4])
    with pytest.raises(EngineError, match="1 of 6 missing, 0 written more than once"):
        merge_shards(tmp_path, 6)
    _write_shard(tmp_path / "c.parquet", [4])
    with pytest.raises(EngineError, match="0 of 5 missing, 1 written more than once"):
        merge_shards(tmp_path, 5)


ray = pytest.importorskip("ray", reason="the Ray engine is an extra: pip install 'samachar-qa[ray]'")


@pytest.fixture(scope="module")
def local_ray():  # type: ignore[no-untyped-def]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    # The failing actor below lives in this test module, which Ray's workers cannot import: ship it by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.shutdown()


def _build(documents: list[Any], encoder: Any, embed: Any = None) -> Any:
    from qa.pipeline import params_for
    from qa.retriever import Retriever

    return Retriever.build(documents, encoder, params_for(Settings(), encoder), embed=embed)


@pytest.mark.slow
def test_a_ray_build_is_the_local_build(
    local_ray,
    default_encoder,
    model_cache: Path,
    seed_corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # type: ignore[no-untyped-def]
    from qa import ray_engine
    from qa.corpus import load_corpus

    shards: list[str] = []

    def merge_shards(folder: Path, n: int) -> np.ndarray:  # what the workers wrote, seen before the merge
        shards.extend(p.name for p in folder.iterdir())
        return merge(folder, n)

    merge = ray_engine.merge_shards
    monkeypatch.setattr(ray_engine, "merge_shards", merge_shards)
    staging = tmp_path / "staging"
    documents = load_corpus(seed_corpus)
    local = _build(documents, default_encoder)
    embed = ray_engine.ray_embedder(
        DEFAULT_MODEL, model_cache, num_workers=2, batch_size=8, staging_dir=staging
    )
    remote = _build(documents, default_encoder, embed)
    assert len(shards) > 1 and all(name.endswith(".parquet") for name in shards)
    assert list(staging.iterdir()) == []  # the job's staging folder is gone
    assert tuple(remote.chunks) == tuple(local.chunks) and tuple(remote.members) == tuple(local.members)
    assert remote.manifest["corpus_fingerprint"] == local.manifest["corpus_fingerprint"]
    np.testing.assert_allclose(remote.vectors, local.vectors, atol=1e-5)
    np.testing.assert_allclose(remote.sentence_vectors, local.sentence_vectors, atol=1e-5)
    for q in QUESTIONS:
        assert [h.chunk.id for h in remote.search(q, 5)] == [h.chunk.id for h in local.search(q, 5)]


@pytest.mark.slow
def test_qa_build_on_ray_from_a_corpus_uri_gives_the_local_index(
    local_ray, seed_corpus: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import json

    from qa.cli import main
    from qa.index_store import current_version

    model = ["--model", "hashing:64"]
    assert main(["build", "--corpus", str(seed_corpus), "--index", str(tmp_path / "local"), *model]) == 0
    remote = ["--corpus", seed_corpus.as_uri(), "--index", str(tmp_path / "remote"), *model]
    assert main(["build", "--engine", "ray", "--staging", str(tmp_path), *remote]) == 0
    local, ray_built = current_version(tmp_path / "local"), current_version(tmp_path / "remote")
    assert (ray_built / "chunks.jsonl").read_text() == (local / "chunks.jsonl").read_text()
    manifests = [json.loads((v / "manifest.json").read_text()) for v in (local, ray_built)]
    assert manifests[0]["corpus_fingerprint"] == manifests[1]["corpus_fingerprint"]
    np.testing.assert_allclose(np.load(ray_built / "vectors.npy"), np.load(local / "vectors.npy"), atol=1e-6)


class DiesOnce:
    """An encoder actor whose process dies on its first batch (once per marker file): Ray must restart it."""

    marker = ""

    def __init__(self, model: str, cache_dir: str) -> None:
        from qa.ray_engine import EncoderActor

        self.inner = EncoderActor(model, cache_dir)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not os.path.exists(self.marker):
            Path(self.marker).touch()
            os._exit(1)  # the worker process ends mid-job, as a lost machine would
        return self.inner(batch)


@pytest.mark.slow
def test_a_worker_that_dies_is_restarted_and_the_result_is_the_same(
    local_ray, default_encoder, model_cache: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from qa.ray_engine import ray_embedder

    DiesOnce.marker = str(tmp_path / "died")
    texts = [f"यह परीक्षण वाक्य संख्या {i} है।" for i in range(12)]
    embed = ray_embedder(DEFAULT_MODEL, model_cache, num_workers=1, batch_size=4, actor=DiesOnce)  # type: ignore[arg-type]
    vectors = embed(texts)
    assert Path(DiesOnce.marker).exists()  # it did die
    np.testing.assert_allclose(vectors, default_encoder.encode_passages(texts), atol=1e-5)


@pytest.mark.slow
def test_ingest_with_ray_embeds_only_the_new_article(
    local_ray, default_encoder, model_cache: Path, seed_corpus: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from qa.index_build import index_texts
    from qa.pipeline import Assistant
    from qa.ray_engine import ray_embedder

    settings = Settings(corpus_dir=seed_corpus, index_dir=tmp_path / "index", cache_dir=model_cache)
    assistant = Assistant.from_settings(settings, progress=False, encoder=default_encoder)
    before = set(index_texts(assistant.retriever.data))
    new = tmp_path / "naval.txt"
    new.write_text(NEW_ARTICLE, encoding="utf-8")
    report = assistant.ingest([new], embed=ray_embedder(DEFAULT_MODEL, model_cache, num_workers=1))
    after = assistant.retriever
    assert report.added_documents == ("naval",)
    assert report.texts_embedded == len(set(index_texts(after.data)) - before)  # the new texts only
    assert "रघुनाथन" in assistant.ask("अभ्यास का नेतृत्व किसने किया?").text


class DropsARow:
    """An encoder actor that loses text 0, as a buggy worker would."""

    def __init__(self, model: str, cache_dir: str) -> None:
        from qa.ray_engine import EncoderActor

        self.inner = EncoderActor(model, cache_dir)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = self.inner(batch)
        keep = out["row"] != 0
        return {"row": out["row"][keep], "vector": out["vector"][keep]}


@pytest.mark.slow
def test_a_job_that_loses_rows_fails_and_leaves_no_staging(local_ray, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from qa.ray_engine import EngineError, ray_embedder

    staging = tmp_path / "staging"
    embed = ray_embedder(
        "hashing:64", tmp_path, num_workers=1, batch_size=4, staging_dir=staging, actor=DropsARow
    )  # type: ignore[arg-type]
    with pytest.raises(EngineError, match="1 of 12 missing"):
        embed([f"वाक्य {i}" for i in range(12)])
    assert list(staging.iterdir()) == []
