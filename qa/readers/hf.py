"""Readers backed by a transformers model from a hub id or a local folder (chosen in `qa.readers.registry`).

    build_reader("hf-qa:/models/xlm-roberta-squad2", encoder)  # an extractive-QA model, id or local path
    build_reader("hf-generate:/models/some-instruct-lm", encoder)  # a causal LM with a grounded prompt

These need a local model folder (or a reachable model hub); the model is loaded only when such a reader
first reads.

- ``hf-qa``: every retrieved chunk is read with the model (question and chunk as a pair, long chunks in
  overlapping windows); the best-scoring span over all chunks is the answer, its offsets taken from the
  tokenizer's offset mapping, so it is an exact slice of the cited source. A best score below
  `min_score` abstains.
- ``hf-generate``: the passages and the question go into one prompt that asks for a short answer from the
  passages only. The generation is accepted only if the retrieved text supports it: its normalised form
  (punctuation, case and spacing ignored) occurs in a chunk (the answer is then that exact slice of the
  chunk), or at least `min_overlap` of its tokens occur in one sentence (the answer is then the generation,
  citing that sentence). Otherwise the fallback (the default trained reader) answers instead (or abstains).
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from qa.chunking import sentence_around, split_sentences
from qa.errors import ModelError
from qa.language import detect_language
from qa.metrics import normalize_answer
from qa.readers.base import Reader, abstention, check_language
from qa.readers.registry import HF_GENERATE_PREFIX, HF_QA_PREFIX
from qa.types import Answer, Hit, Source


def _load_once(reader: Any, auto_class: str, kind: str) -> tuple[Any, Any]:
    """Load `reader.model_name` (tokenizer + model) on first use, once, under the reader's lock."""
    with reader._lock:
        if reader._loaded is None:
            transformers = _import_transformers()
            try:
                tokenizer = transformers.AutoTokenizer.from_pretrained(reader.model_name)
                model = getattr(transformers, auto_class).from_pretrained(reader.model_name)
            except Exception as exc:  # transformers raises OSError, ValueError, HF hub errors...
                raise ModelError(
                    f"Could not load the {kind} model {reader.model_name!r}: {exc}. "
                    f"Give a local model folder or a model id the hub can serve."
                ) from exc
            model.eval()
            reader._loaded = (tokenizer, model)
        return reader._loaded


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:  # pragma: no cover - a dependency, but say how to fix it
        raise ImportError(
            "The hf-qa and hf-generate readers need transformers: pip install transformers"
        ) from exc
    return transformers


class HFQAReader:
    """An extractive-QA model (``AutoModelForQuestionAnswering``) over the retrieved chunks.

    Args:
        model: a model id or a local folder with the model and its tokenizer.
        fallback: used when the model finds nothing (None: abstain instead).
        min_score: the span probability (start x end) below which the reader abstains.
        max_hits: how many retrieved chunks are read.
        max_answer_tokens: the longest span considered.
        max_length, stride: the window over long chunks, in model tokens.
    """

    def __init__(
        self,
        model: str,
        *,
        fallback: Reader | None = None,
        min_score: float = 0.05,
        max_hits: int = 5,
        max_answer_tokens: int = 30,
        max_length: int = 384,
        stride: int = 128,
    ) -> None:
        self.model_name = model
        self.name = f"{HF_QA_PREFIX}{model}"
        self.fallback = fallback
        self.min_score = min_score
        self.max_hits = max_hits
        self.max_answer_tokens = max_answer_tokens
        self.max_length = max_length
        self.stride = stride
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        return _load_once(self, "AutoModelForQuestionAnswering", "question-answering")

    def best_span(self, question: str, context: str) -> tuple[int, int, float] | None:
        """The best answer span of `context` as character offsets with its probability, or None."""
        import torch

        tokenizer, model = self._load()
        enc = tokenizer(
            question,
            context,
            truncation="only_second",
            max_length=self.max_length,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=True,
            return_tensors="pt",
        )
        offsets = enc.pop("offset_mapping")
        enc.pop("overflow_to_sample_mapping", None)
        inputs = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        with self._lock, torch.no_grad():
            out = model(**inputs)
        best: tuple[int, int, float] | None = None
        for w in range(out.start_logits.shape[0]):
            seq_ids = enc.sequence_ids(w)
            ctx = [i for i, s in enumerate(seq_ids) if s == 1]
            if not ctx:
                continue
            start_p = torch.softmax(out.start_logits[w], -1)
            end_p = torch.softmax(out.end_logits[w], -1)
            lo, hi = ctx[0], ctx[-1]
            for i in range(lo, hi + 1):
                j_max = min(hi, i + self.max_answer_tokens - 1)
                j = i + int(torch.argmax(end_p[i : j_max + 1]))
                score = float(start_p[i] * end_p[j])
                s_char, e_char = int(offsets[w][i][0]), int(offsets[w][j][1])
                if e_char <= s_char:
                    continue
                if best is None or score > best[2]:
                    best = (s_char, e_char, score)
        if best is None:
            return None
        s_char, e_char, score = best
        while s_char < e_char and context[s_char].isspace():
            s_char += 1
        while e_char > s_char and context[e_char - 1].isspace():
            e_char -= 1
        return (s_char, e_char, score) if e_char > s_char else None

    def read(self, question: str, hits: Sequence[Hit], *, language: str, focus: str | None = None) -> Answer:
        check_language(language)
        hits = list(hits)[: self.max_hits]
        best: tuple[float, int, int, int] | None = None
        for k, hit in enumerate(hits):
            span = self.best_span(question, hit.chunk.text)
            if span is not None and (best is None or span[2] > best[0]):
                best = (span[2], k, span[0], span[1])
        if best is None or best[0] < self.min_score:
            if self.fallback is not None:
                return self.fallback.read(question, hits, language=language, focus=focus)
            return abstention(self.name, question, language, best[0] if best else 0.0)
        score, k, start, end = best
        hit = hits[k]
        text = hit.chunk.text[start:end]
        return Answer(
            question=question,
            text=text,
            abstained=False,
            confidence=float(min(1.0, score)),
            sources=(Source.from_hit(hit, (start, end)),),
            sentence=sentence_around(hit.chunk.text, start, end),
            language=language,
            quoted=detect_language(text) != language,
            reader=self.name,
        )


# ---------------------------------------------------------------------------------------------- generation

_PROMPTS = {
    "hi": (
        "नीचे दिए गए लेखों के अंशों से ही प्रश्न का छोटा उत्तर दीजिए। उत्तर अंशों के शब्दों में ही दें। "
        'यदि उत्तर अंशों में नहीं है, तो केवल "पता नहीं" लिखिए।'
    ),
    "en": (
        "Answer the question briefly, using only the passages below and their own words (the passages are "
        "in Hindi; quote the Hindi words). If the passages do not contain the answer, write only "
        '"unknown".'
    ),
}
_UNKNOWN = {"पता नहीं", "unknown", "i don't know", "not found"}


def _fold(text: str) -> str:
    """Case-folded, without punctuation, symbols and zero-width characters (as `qa.metrics` normalises, but
    keeping English articles, so that it can be applied one character at a time)."""
    return "".join(
        ch
        for ch in unicodedata.normalize("NFC", text).casefold()
        if unicodedata.category(ch)[0] not in "PS" and unicodedata.category(ch) != "Cf"
    )


def supported_span(answer: str, text: str) -> tuple[int, int] | None:
    """Where `answer` occurs in `text` once both are normalised (punctuation, case and spacing ignored, as in
    `qa.metrics.normalize_answer`), as character offsets of `text`; None when it does not."""
    target = " ".join(_fold(answer).split())
    if not target:
        return None
    # Normalise `text` character by character, remembering where each kept character came from.
    kept: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(unicodedata.normalize("NFC", text)):
        norm = " " if ch.isspace() else _fold(ch)
        if not norm:
            continue
        if norm == " " and (not kept or kept[-1] == " "):
            continue
        for c in norm:
            kept.append(c)
            origin.append(i)
    flat = "".join(kept)
    pos = flat.find(target)
    while pos != -1:
        end = pos + len(target)
        # Whole words only: "राम" is not supported by "रामपुर".
        if (pos == 0 or flat[pos - 1] == " ") and (end == len(flat) or flat[end] == " "):
            return origin[pos], origin[end - 1] + 1
        pos = flat.find(target, pos + 1)
    return None


def token_support(answer: str, text: str) -> float:
    """Share of the answer's normalised tokens that occur in `text`."""
    tokens = normalize_answer(answer).split()
    if not tokens:
        return 0.0
    present = set(normalize_answer(text).split())
    return sum(1 for t in tokens if t in present) / len(tokens)


class HFGenerativeReader:
    """A causal LM answering from a grounded prompt; its answer must be supported by the retrieved text.

    Args:
        model: a model id or a local folder with the model and its tokenizer.
        fallback: answers when the generation is unsupported (None: abstain instead).
        min_overlap: the share of the answer's tokens one retrieved sentence must hold for a generation
            that is not a verbatim slice of a chunk.
        max_hits: how many chunks go into the prompt.
        max_new_tokens: the generation budget.
        max_prompt_tokens: passages are dropped from the end until the prompt fits.
    """

    def __init__(
        self,
        model: str,
        *,
        fallback: Reader | None = None,
        min_overlap: float = 0.8,
        max_hits: int = 3,
        max_new_tokens: int = 48,
        max_prompt_tokens: int = 1536,
    ) -> None:
        self.model_name = model
        self.name = f"{HF_GENERATE_PREFIX}{model}"
        self.fallback = fallback
        self.min_overlap = min_overlap
        self.max_hits = max_hits
        self.max_new_tokens = max_new_tokens
        self.max_prompt_tokens = max_prompt_tokens
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        return _load_once(self, "AutoModelForCausalLM", "generative")

    def prompt(self, question: str, hits: Sequence[Hit], language: str) -> str:
        """The grounded prompt: instruction, numbered passages, the question."""
        passages = "\n\n".join(f"[{k}] {h.title}\n{h.chunk.text}" for k, h in enumerate(hits, 1))
        label_q, label_a = ("प्रश्न", "उत्तर") if language == "hi" else ("Question", "Answer")
        return f"{_PROMPTS[language]}\n\n{passages}\n\n{label_q}: {question}\n{label_a}:"

    def generate(self, prompt: str) -> str:
        """The model's continuation of `prompt` (greedy), first line only."""
        import torch

        tokenizer, model = self._load()
        text = prompt
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=self.max_prompt_tokens)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        with self._lock, torch.no_grad():
            out = model.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=pad)
        generated = tokenizer.decode(out[0][enc["input_ids"].shape[1] :], skip_special_tokens=True)
        return generated.strip().split("\n")[0].strip().strip("\"'“”")

    def read(self, question: str, hits: Sequence[Hit], *, language: str, focus: str | None = None) -> Answer:
        check_language(language)
        hits = list(hits)
        if not hits:
            return abstention(self.name, question, language)
        used = hits[: self.max_hits]
        generated = self.generate(self.prompt(question, used, language))
        answer = self.grounded_answer(question, generated, used, language)
        if answer is not None:
            return answer
        if self.fallback is not None:
            fallback = self.fallback.read(question, hits, language=language, focus=focus)
            return replace(fallback, reader=f"{self.name} -> {fallback.reader}")
        return abstention(self.name, question, language)

    def grounded_answer(
        self, question: str, generated: str, hits: Sequence[Hit], language: str
    ) -> Answer | None:
        """An Answer for `generated` if the retrieved text supports it, else None."""
        if not generated or normalize_answer(generated) in {normalize_answer(u) for u in _UNKNOWN}:
            return None
        for hit in hits:
            span = supported_span(generated, hit.chunk.text)
            if span is not None:
                text = hit.chunk.text[span[0] : span[1]]
                return Answer(
                    question=question,
                    text=text,
                    abstained=False,
                    confidence=0.8,
                    sources=(Source.from_hit(hit, span),),
                    sentence=sentence_around(hit.chunk.text, *span),
                    language=language,
                    quoted=detect_language(text) != language,
                    reader=self.name,
                )
        best: tuple[float, Hit, str] | None = None
        for hit in hits:
            for s, e in split_sentences(hit.chunk.text):
                sentence = hit.chunk.text[s:e]
                overlap = token_support(generated, sentence)
                if best is None or overlap > best[0]:
                    best = (overlap, hit, sentence)
        if best is None or best[0] < self.min_overlap:
            return None
        overlap, hit, sentence = best
        # Supported but not verbatim: the generation is the answer, the sentence is its citation (no span).
        return Answer(
            question=question,
            text=generated,
            abstained=False,
            confidence=0.6 * overlap,
            sources=(Source.from_hit(hit),),
            sentence=sentence,
            language=language,
            quoted=False,
            reader=self.name,
        )
