"""The trained reader: its shipped weights, their checks, span picking, and answers with the real models."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.errors import ModelError, QAError
from qa.readers.span_model import Window, best_span
from qa.readers.trained import DEFAULT_WEIGHTS_DIR, ReaderWeights, ReaderWeightsError, _trim

REPO = Path(__file__).resolve().parent.parent
HAWAII_HI = "हवाई में हुई बैठक की सह-अध्यक्षता किसने की?"
HAWAII_EN = "Who co-chaired the meeting in Hawaii?"


@pytest.fixture()
def weights_copy(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(DEFAULT_WEIGHTS_DIR, target)
    return target


def test_shipped_weights_verify_and_have_a_model_card() -> None:
    weights = ReaderWeights.open(DEFAULT_WEIGHTS_DIR)
    assert weights.weights_path.stat().st_size <= 60 * 1024 * 1024
    assert weights.manifest["calibration"]["method"] != "uncalibrated"
    card = (DEFAULT_WEIGHTS_DIR / "README.md").read_text(encoding="utf-8")
    for needed in ("Licence", "train_reader.py", "XQuAD", "calibrat"):
        assert needed.lower() in card.lower()


def test_a_corrupted_weights_file_is_refused_naming_it(weights_copy: Path) -> None:
    path = weights_copy / "reader.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ReaderWeightsError) as info:
        ReaderWeights.open(weights_copy)
    assert isinstance(info.value, ModelError) and isinstance(info.value, QAError)
    assert str(path) in str(info.value) and "corrupt" in str(info.value) and "git checkout" in str(info.value)


@pytest.mark.parametrize("damage", ["no weights", "no manifest", "bad manifest", "manifest lacks keys"])
def test_missing_or_broken_files_are_refused(weights_copy: Path, damage: str) -> None:
    manifest = weights_copy / "manifest.json"
    if damage == "no weights":
        (weights_copy / "reader.safetensors").unlink()
        named = weights_copy / "reader.safetensors"
    elif damage == "no manifest":
        manifest.unlink()
        named = manifest
    elif damage == "bad manifest":
        manifest.write_text("{not json", encoding="utf-8")
        named = manifest
    else:
        manifest.write_text(json.dumps({"weights": "reader.safetensors"}), encoding="utf-8")
        named = manifest
    with pytest.raises(ReaderWeightsError, match="restore") as info:
        ReaderWeights.open(weights_copy)
    assert str(named) in str(info.value)


def test_best_span_stays_in_one_sentence_and_compares_with_no_answer() -> None:
    # [CLS] q [SEP] [SEP] c0 c1 c2 c3 [SEP]: c0-c1 are sentence 0, c2-c3 sentence 1.
    window = Window(tuple(range(9)), (None, None, None, None, (0, 1), (2, 3), (4, 5), (6, 7), None), 4, 8)
    start = np.array([1.0, 0, 0, 0, 0, 5.0, 0, 0, 0])
    end = np.array([1.0, 0, 0, 0, 0, 0, 4.0, 0, 0])
    free = best_span(window, start, end, max_answer_tokens=4)
    assert free is not None and (free.start, free.end) == (5, 6) and free.null_score == 2.0
    kept = best_span(window, start, end, max_answer_tokens=4, segments=[-1, -1, -1, -1, 0, 0, 1, 1, -1])
    assert kept is not None and (kept.start, kept.end) != (5, 6)
    assert kept.score < free.score and 0.0 < kept.probability < 1.0
    assert best_span(window, start, end, max_answer_tokens=1) is not None


def test_two_equal_spans_of_one_sentence_are_joined() -> None:
    # [CLS] q [SEP] [SEP] X and Y . Z [SEP]: X (pos 4) and Y (pos 6) score alike, Z (pos 8) is another sentence.
    offsets = (None, None, None, None, (0, 1), (2, 5), (6, 7), (7, 8), (9, 10), None)
    window = Window(tuple(range(10)), offsets, 4, 9)
    start = np.array([0, 0, 0, 0, 5.0, 0, 4.9, 0, 4.95, 0])
    end = np.array([0, 0, 0, 0, 5.0, 0, 4.9, 0, 4.95, 0])
    segments = [-1, -1, -1, -1, 0, 0, 0, 0, 1, -1]
    alone = best_span(window, start, end, max_answer_tokens=8, segments=segments)
    assert alone is not None and (alone.start, alone.end) == (4, 4)
    joined = best_span(window, start, end, max_answer_tokens=8, segments=segments, merge_within=0.25)
    assert joined is not None and (joined.start, joined.end) == (4, 6) and joined.score == alone.score
    assert best_span(window, start, end, max_answer_tokens=2, segments=segments, merge_within=0.25).end == 4
    far = best_span(window, start, end, max_answer_tokens=8, segments=segments, merge_within=0.05)
    assert far is not None and (far.start, far.end) == (4, 4)


def test_trim_drops_punctuation_and_unbalanced_brackets() -> None:
    for text in ("(एयर मार्शल दीक्षित),", "एयर मार्शल दीक्षित)", "“एयर मार्शल दीक्षित”"):
        a, b = _trim(text, 0, len(text))
        assert text[a:b] == "एयर मार्शल दीक्षित"
    text = "जनरल (सेवानिवृत्त) वी. के. सिंह"
    assert _trim(text, 0, len(text)) == (0, len(text))  # brackets inside the answer stay
    text = "जोशुआ एम. रुड।"
    a, b = _trim(text, 0, len(text))
    assert text[a:b] == "जोशुआ एम. रुड"


# ----------------------------------------------------------------------------------------------- real models


def _assert_slice(answer) -> None:  # type: ignore[no-untyped-def]
    src = answer.sources[0]
    assert src.text[src.answer_start : src.answer_end] == answer.text


@pytest.mark.slow
def test_answers_the_hawaii_question_in_hindi_and_english(seed_assistant) -> None:  # type: ignore[no-untyped-def]
    assert seed_assistant.reader.name == "trained"
    hi = seed_assistant.ask(HAWAII_HI)
    assert not hi.abstained and "दीक्षित" in hi.text and not hi.quoted
    _assert_slice(hi)
    # English, from the passage that holds the answer: the Hindi span, quoted. (End to end the shipped model
    # answers this question from a higher-ranked passage about another meeting: a known miss, see the README.)
    hawaii = [h for h in seed_assistant.search(HAWAII_HI, 5) if "सह-अध्यक्षता" in h.chunk.text][:1]
    en = seed_assistant.reader.read(HAWAII_EN, hawaii, language="en")
    assert not en.abstained and ("दीक्षित" in en.text or "रुड" in en.text) and en.quoted
    _assert_slice(en)


@pytest.mark.slow
@pytest.mark.parametrize(
    "question", ["What is the recipe for paneer butter masala?", "पनीर बटर मसाला कैसे बनाते हैं?"]
)
def test_an_unrelated_question_abstains(seed_assistant, question: str) -> None:  # type: ignore[no-untyped-def]
    answer = seed_assistant.ask(question)
    assert answer.abstained and not answer.sources and answer.retrieved  # nothing cited; what was searched


@pytest.mark.slow
def test_the_reader_shares_the_retrievers_modules(seed_assistant) -> None:  # type: ignore[no-untyped-def]
    _, network = seed_assistant.reader._load()
    base = seed_assistant.encoder.model[0].auto_model
    assert network.encoder.embeddings is base.embeddings  # the 250k-row word embeddings are in memory once
    frozen = seed_assistant.reader.weights.manifest["frozen_layers"]
    assert network.encoder.encoder.layer[0] is base.encoder.layer[0]
    assert network.encoder.encoder.layer[frozen] is not base.encoder.layer[frozen]


@pytest.mark.slow
def test_cli_says_one_line_for_corrupt_weights(weights_copy: Path, seed_corpus: Path, tmp_path: Path) -> None:
    path = weights_copy / "reader.safetensors"
    path.write_bytes(path.read_bytes()[:-10])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa",
            "ask",
            HAWAII_HI,
            "--corpus",
            str(seed_corpus),
            "--index",
            str(tmp_path / "index"),
            "--model",
            "hashing:256",
            "--reader",
            f"trained:{weights_copy}",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(path) in lines[0] and "corrupt" in lines[0]


@pytest.mark.slow
def test_a_confident_top_passage_ends_the_reading(seed_assistant) -> None:  # type: ignore[no-untyped-def]
    from qa.readers.trained import TrainedReader

    hits = seed_assistant.search(HAWAII_HI, 5)
    answers, rows = {}, {}
    for early_exit in (None, 0.0):  # 0.0: any answer of the top passage is confident enough
        reader = TrainedReader(seed_assistant.encoder, early_exit=early_exit)
        seen: list[int] = []
        real = reader._logits

        def counting(network, windows, pad_id, real=real, seen=seen):  # type: ignore[no-untyped-def]
            seen.append(len(windows))
            return real(network, windows, pad_id)

        reader._logits = counting  # type: ignore[method-assign]
        answers[early_exit] = reader.read(HAWAII_HI, hits, language="hi")
        rows[early_exit] = seen
    assert len(rows[None]) == 1 and rows[None][0] >= 3  # one batch of the top 3 passages
    assert len(rows[0.0]) == 1 and rows[0.0][0] < rows[None][0]  # the top passage only
    assert not answers[0.0].abstained and answers[0.0].sources[0].doc_id == hits[0].chunk.doc_id


@pytest.mark.slow
def test_the_us_side_follow_up(seed_assistant) -> None:  # type: ignore[no-untyped-def]
    hi = seed_assistant.ask(HAWAII_HI)
    follow = seed_assistant.ask("और अमेरिका की ओर से?", history=[{"question": HAWAII_HI, "answer": hi.text}])
    assert "रुड" in follow.text and "दीक्षित" not in follow.text


def test_a_language_can_have_its_own_threshold() -> None:
    from qa.readers.trained import Calibration, TrainedReader

    cal = Calibration(1.0, 0.0, 0.45, (("en", 0.03),))
    assert cal.threshold_for("en") == 0.03 and cal.threshold_for("hi") == 0.45
    # The per-language thresholds were fitted on Hindi passages: an English question over English text (a
    # quoted tweet) is a same-language read, like the held-out training reads, and gets their threshold.
    assert cal.threshold_for("en", "hi") == 0.03 and cal.threshold_for("en", "en") == 0.45
    shipped = TrainedReader(None)
    assert shipped.calibration.threshold_for("en") < shipped.calibration.threshold_for("hi")
    forced = TrainedReader(None, threshold=0.7)  # an explicit threshold applies to every language
    assert forced.calibration.threshold_for("en") == forced.calibration.threshold_for("hi") == 0.7
    assert forced.calibration.with_retrieval == ()  # and replaces the retrieval-aware fits


def test_the_retrieval_aware_fit_applies_only_to_its_encoder_and_language() -> None:
    from qa.readers.trained import Calibration, RetrievalFit

    fit = RetrievalFit("enc", margin_scale=0.5, dense_scale=20.0, bias=-17.0, threshold=0.4)
    cal = Calibration(0.4, -0.5, 0.45, (("en", 0.03),), (("en", fit),))
    near, far = cal.judge(2.0, "en", 0.85, "enc", "hi"), cal.judge(2.0, "en", 0.75, "enc", "hi")
    assert near[1] == far[1] == 0.4 and near[0] > 0.4 > far[0]  # the same span, a further passage: abstain
    margin_only = (cal.confidence(2.0), 0.03)
    assert cal.judge(2.0, "en", 0.75, "other-encoder", "hi") == margin_only  # another encoder's cosines
    assert cal.judge(2.0, "en", None, "enc", "hi") == margin_only  # a given paragraph, not retrieved
    # An English passage: neither fit was made on one; the training reads' threshold (same-language reads).
    assert cal.judge(2.0, "en", 0.75, "enc", "en") == (cal.confidence(2.0), 0.45)
    assert cal.judge(2.0, "hi", 0.75, "enc", "hi") == (cal.confidence(2.0), 0.45)  # no fit for Hindi here
    shipped = Calibration.from_manifest(
        {
            "scale": 1,
            "bias": 0,
            "threshold": 0.5,
            "with_retrieval": {
                "fits": {
                    "en": {
                        "encoder": "enc",
                        "margin_scale": 0.5,
                        "dense_scale": 20.0,
                        "bias": -17.0,
                        "threshold": 0.4,
                    }
                }
            },
        }
    )
    assert shipped.with_retrieval == (("en", fit),)
    # One fit per encoder: each encoder's dense scores are judged by its own fit.
    other = RetrievalFit("enc@int8", margin_scale=0.5, dense_scale=30.0, bias=-26.0, threshold=0.3)
    entry = {"margin_scale": 0.5, "dense_scale": 30.0, "bias": -26.0, "threshold": 0.3}
    both = Calibration.from_manifest(
        {
            "scale": 1,
            "bias": 0,
            "threshold": 0.5,
            "with_retrieval": {
                "fits": {
                    "en": [
                        {"encoder": "enc", **entry, "dense_scale": 20.0, "bias": -17.0, "threshold": 0.4},
                        {"encoder": "enc@int8", **entry},
                    ]
                }
            },
        }
    )
    assert both.with_retrieval == (("en", fit), ("en", other))
    assert both.judge(2.0, "en", 0.85, "enc", "hi") == (fit.confidence(2.0, 0.85), 0.4)
    assert both.judge(2.0, "en", 0.85, "enc@int8", "hi") == (other.confidence(2.0, 0.85), 0.3)
    assert both.judge(2.0, "en", 0.85, "enc@onnx-int8", "hi") == (both.confidence(2.0), 0.5)


@pytest.mark.slow
def test_the_onnx_reader_agrees_with_torch_and_a_damaged_export_is_rebuilt(
    seed_assistant, model_cache: Path
) -> None:  # type: ignore[no-untyped-def]
    from embeddings.onnx import DATA_FILE, MANIFEST, MODEL_FILE
    from qa.readers.registry import build_reader

    hits = seed_assistant.search(HAWAII_HI, 5)
    torch_answer = seed_assistant.reader.read(HAWAII_HI, hits, language="hi")
    for backend in ("onnx", "onnx-int8"):
        reader = build_reader(f"trained@{backend}", seed_assistant.encoder, cache_dir=model_cache)
        answer = reader.read(HAWAII_HI, hits, language="hi")
        assert not answer.abstained and "दीक्षित" in answer.text
        _assert_slice(answer)
        if backend == "onnx":  # the same network in fp32: the same span, the same confidence
            assert answer.text == torch_answer.text
            assert abs(answer.confidence - torch_answer.confidence) < 1e-3
    # The exports hold the reader's layers and head, not the 384 MB word-embedding table.
    (fp32,) = sorted((model_cache / "models").glob("reader-*-onnx"))
    assert (fp32 / DATA_FILE).stat().st_size < 150e6
    exports = sorted((model_cache / "models").glob("reader-*-onnx-int8"))
    assert len(exports) == 1
    assert sum((exports[0] / name).stat().st_size for name in (MODEL_FILE, DATA_FILE)) < 60e6
    model = exports[0] / DATA_FILE
    model.write_bytes(model.read_bytes()[:1000])  # truncated: no longer the file the manifest describes
    rebuilt = build_reader("trained@onnx-int8", seed_assistant.encoder, cache_dir=model_cache)
    assert "दीक्षित" in rebuilt.read(HAWAII_HI, hits, language="hi").text
    assert model.stat().st_size > 1_000_000
    manifest = exports[0] / MANIFEST
    info = json.loads(manifest.read_text(encoding="utf-8"))
    info["inputs"] = ["input_ids", "attention_mask"]  # a graph of another layout: stale
    manifest.write_text(json.dumps(info), encoding="utf-8")
    stale = build_reader("trained@onnx-int8", seed_assistant.encoder, cache_dir=model_cache)
    assert "दीक्षित" in stale.read(HAWAII_HI, hits, language="hi").text
    assert json.loads(manifest.read_text(encoding="utf-8"))["inputs"] == ["inputs_embeds", "attention_mask"]


@pytest.mark.slow
def test_the_onnx_reader_looks_words_up_in_the_encoders_own_table(
    seed_assistant, model_cache: Path, hashing_encoder
) -> None:  # type: ignore[no-untyped-def]
    from qa.readers.span_model import context_windows
    from qa.readers.trained import TrainedReader

    serving = seed_assistant.encoder  # the default: queries on ONNX, passages on torch
    weight = serving.model[0].auto_model.embeddings.word_embeddings.weight
    # With a torch encoder: the torch weight itself, viewed from numpy, no second table.
    on_torch = TrainedReader(serving.torch_encoder, cache_dir=model_cache, backend="onnx")
    assert on_torch._load()[1].table.ctypes.data == weight.data_ptr()
    # With the default encoder: mapped from its ONNX export's weights file (pages shared with ONNX Runtime's
    # own mapping of it), the same values.
    reader = TrainedReader(serving, cache_dir=model_cache, backend="onnx")
    tokenizer, network = reader._load()
    assert isinstance(network.table, np.memmap) and Path(str(network.table.filename)).parent == serving.folder
    assert network.table.shape == tuple(weight.shape)
    np.testing.assert_array_equal(network.table[:1000], weight[:1000].detach().numpy())
    # One window's logits against the torch network's.
    hit = next(h for h in seed_assistant.search(HAWAII_HI, 5) if "सह-अध्यक्षता" in h.chunk.text)
    windows = context_windows(
        tokenizer,
        HAWAII_HI,
        hit.chunk.text,
        max_length=reader.max_length,
        stride=reader.stride,
        max_question_tokens=reader.max_question_tokens,
    )[:1]
    torch_reader = seed_assistant.reader
    torch_tokenizer, torch_network = torch_reader._load()
    pad = int(tokenizer.pad_token_id)
    expected = torch_reader._logits(torch_network, windows, pad)
    for got, want in zip(reader._logits(network, windows, pad), expected):
        assert np.allclose(got, want, atol=1e-3), float(np.abs(got - want).max())
    # With an encoder of another model, the table is mapped from the base model's safetensors file.
    other = TrainedReader(hashing_encoder, cache_dir=model_cache, backend="onnx")
    _, mapped = other._load()
    assert isinstance(mapped.table, np.memmap) and Path(mapped.table.filename).name == "model.safetensors"
    assert np.array_equal(mapped.table, weight.detach().numpy())
    assert (
        other.read(HAWAII_HI, [hit], language="hi").text
        == torch_reader.read(HAWAII_HI, [hit], language="hi").text
    )


@pytest.mark.slow
def test_the_fp32_onnx_reader_answers_the_seed_questions_as_torch_does(
    seed_assistant, model_cache: Path
) -> None:  # type: ignore[no-untyped-def]
    from qa.datasets import load_dataset
    from qa.language import detect_language
    from qa.readers.registry import build_reader

    onnx_reader = build_reader("trained@onnx", seed_assistant.encoder, cache_dir=model_cache)
    examples = [
        e
        for name in ("seed_dev.jsonl", "seed_test.jsonl")
        for e in load_dataset(REPO / "eval" / name).examples
        if not e.history
    ]
    differ = []
    for e in examples:
        hits = seed_assistant.search(e.question, 5)
        language = detect_language(e.question)
        a = seed_assistant.reader.read(e.question, hits, language=language)
        b = onnx_reader.read(e.question, hits, language=language)
        if (a.text, a.abstained) != (b.text, b.abstained):
            differ.append((e.question, a.text, b.text))
    assert not differ, differ


def test_an_unknown_reader_backend_is_refused() -> None:
    from qa.errors import ReaderSpecError
    from qa.readers.registry import build_reader

    with pytest.raises(ReaderSpecError, match="onnx-int8"):
        build_reader("trained@tensorrt", None)  # type: ignore[arg-type]
