"""`--engine ray`: embedding on a local Ray cluster gives the index a local build gives (qa/ray_engine.py)."""

from __future__ import annotations

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

    args = ["--corpus", str(seed_corpus), "--index", str(tmp_path / "index"), "--model", "hashing:64"]
    assert main(["build", *args]) == 0
    live = (tmp_path / "index" / "CURRENT").read_text()
    (seed_corpus / "broken.txt").write_bytes(b"\x00\x01\x02binary\xff\xfe")
    capsys.readouterr()
    assert main(["build", "--engine", "ray", *args]) == 1
    assert "broken.txt" in capsys.readouterr().err
    assert (tmp_path / "index" / "CURRENT").read_text() == live


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
    local_ray, real_encoder, model_cache: Path, seed_corpus: Path
) -> None:  # type: ignore[no-untyped-def]
    from qa.corpus import load_corpus
    from qa.ray_engine import ray_embedder

    documents = load_corpus(seed_corpus)
    local = _build(documents, real_encoder)
    remote = _build(
        documents, real_encoder, ray_embedder(DEFAULT_MODEL, model_cache, num_workers=2, batch_size=8)
    )
    assert remote.chunks == local.chunks and remote.members == local.members
    assert remote.manifest["corpus_fingerprint"] == local.manifest["corpus_fingerprint"]
    np.testing.assert_allclose(remote.vectors, local.vectors, atol=1e-5)
    np.testing.assert_allclose(remote.sentence_vectors, local.sentence_vectors, atol=1e-5)
    for q in QUESTIONS:
        assert [h.chunk.id for h in remote.search(q, 5)] == [h.chunk.id for h in local.search(q, 5)]


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
    local_ray, real_encoder, model_cache: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from qa.ray_engine import ray_embedder

    DiesOnce.marker = str(tmp_path / "died")
    texts = [f"यह परीक्षण वाक्य संख्या {i} है।" for i in range(12)]
    embed = ray_embedder(DEFAULT_MODEL, model_cache, num_workers=1, batch_size=4, actor=DiesOnce)  # type: ignore[arg-type]
    vectors = embed(texts)
    assert Path(DiesOnce.marker).exists()  # it did die
    np.testing.assert_allclose(vectors, real_encoder.encode_passages(texts), atol=1e-5)


@pytest.mark.slow
def test_ingest_with_ray_embeds_only_the_new_article(
    local_ray, real_encoder, model_cache: Path, seed_corpus: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from qa.index_build import index_texts
    from qa.pipeline import Assistant
    from qa.ray_engine import ray_embedder

    settings = Settings(corpus_dir=seed_corpus, index_dir=tmp_path / "index", cache_dir=model_cache)
    assistant = Assistant.from_settings(settings, progress=False, encoder=real_encoder)
    before = set(index_texts(assistant.retriever.data))
    new = tmp_path / "naval.txt"
    new.write_text(NEW_ARTICLE, encoding="utf-8")
    report = assistant.ingest([new], embed=ray_embedder(DEFAULT_MODEL, model_cache, num_workers=1))
    after = assistant.retriever
    assert report.added_documents == ("naval",)
    assert report.texts_embedded == len(set(index_texts(after.data)) - before)  # the new texts only
    assert "रघुनाथन" in assistant.ask("अभ्यास का नेतृत्व किसने किया?").text
