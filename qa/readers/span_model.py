"""The trained span reader's network, its input windows and its saved weights.

Shared by the runtime reader (`qa.readers.trained`) and the training script (`training/train_reader.py`), so
both cut question/passage windows and score spans the same way.

The network is the default embedding model (multilingual-e5-small, a 12-layer BERT over XLM-R's vocabulary)
with a linear start/end head. "No answer" is the [CLS] position (SQuAD 2.0 style): a window whose best span
scores below its [CLS] start+end logit says the window does not hold the answer.

Saved weights hold only what training changed: the upper layers and the head, in float16. The word embeddings
and the lower layers stay frozen during training, so at run time they are the embedding model's own tensors
(shared with the retriever's model in memory, not loaded twice).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.files import publish_folder, sha256_file

WEIGHTS_FILE = "reader.safetensors"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
HEAD_PREFIX = "qa_outputs."


@dataclass(frozen=True)
class Window:
    """One model input: the question, then a stretch of the context.

    `offsets[i]` is the character span in the context of input position `i`, or None for the question,
    [CLS] and separators. Offsets never include the leading space a word-initial token carries.
    """

    input_ids: tuple[int, ...]
    offsets: tuple[tuple[int, int] | None, ...]
    context_start: int  # first input position of the context
    context_end: int  # one past the last input position of the context


def tokenize_context(tokenizer: Any, context: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids and character offsets of `context`, offsets stripped of leading whitespace.

    XLM-R's fast tokenizer gives a word-initial token (▁word) the offset of the space before it; a span cut
    from those offsets would start with a space.
    """
    enc = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(enc["input_ids"])
    offsets: list[tuple[int, int]] = []
    for start, end in enc["offset_mapping"]:
        while start < end and context[start].isspace():
            start += 1
        offsets.append((start, end))
    return ids, offsets


def question_ids(tokenizer: Any, question: str, max_question_tokens: int) -> list[int]:
    """The question's token ids, its end cut off past `max_question_tokens` (a question's subject comes first)."""
    ids = list(tokenizer(question, add_special_tokens=False)["input_ids"])
    return ids[:max_question_tokens]


def build_window(
    tokenizer: Any,
    q_ids: Sequence[int],
    ctx_ids: Sequence[int],
    ctx_offsets: Sequence[tuple[int, int]],
    first: int,
    last: int,
) -> Window:
    """The window `<s> question </s></s> context[first:last] </s>` (XLM-R's pair layout)."""
    cls, sep = int(tokenizer.cls_token_id), int(tokenizer.sep_token_id)
    ids = [cls, *q_ids, sep, sep]
    offsets: list[tuple[int, int] | None] = [None] * len(ids)
    context_start = len(ids)
    ids.extend(ctx_ids[first:last])
    offsets.extend(ctx_offsets[first:last])
    context_end = len(ids)
    ids.append(sep)
    offsets.append(None)
    return Window(tuple(int(i) for i in ids), tuple(offsets), context_start, context_end)


def context_windows(
    tokenizer: Any, question: str, context: str, *, max_length: int, stride: int, max_question_tokens: int
) -> list[Window]:
    """Overlapping windows that cover all of `context`; consecutive windows share `stride` tokens."""
    q_ids = question_ids(tokenizer, question, max_question_tokens)
    ctx_ids, ctx_offsets = tokenize_context(tokenizer, context)
    room = max(8, max_length - len(q_ids) - 4)
    windows: list[Window] = []
    first = 0
    while True:
        last = min(len(ctx_ids), first + room)
        windows.append(build_window(tokenizer, q_ids, ctx_ids, ctx_offsets, first, last))
        if last >= len(ctx_ids):
            return windows
        first = max(first + 1, last - stride)


def pad_batch(windows: Sequence[Window], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Input ids and attention mask, padded to the longest window."""
    width = max(len(w.input_ids) for w in windows)
    ids = np.full((len(windows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(windows), width), dtype=np.int64)
    for row, w in enumerate(windows):
        ids[row, : len(w.input_ids)] = w.input_ids
        mask[row, : len(w.input_ids)] = 1
    return ids, mask


@dataclass(frozen=True)
class SpanScore:
    """The best span of one window, in input positions, and the window's no-answer evidence."""

    start: int
    end: int
    score: float  # start logit + end logit of the span
    null_score: float  # start logit + end logit at [CLS]
    probability: float  # softmax probability of the span among the window's spans and [CLS]


def best_span(
    window: Window,
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    *,
    max_answer_tokens: int,
    segments: Sequence[int] | None = None,
    merge_within: float | None = None,
) -> SpanScore | None:
    """The highest-scoring context span of `window` no longer than `max_answer_tokens`.

    `segments[i]` (per input position) keeps a span inside one segment: the caller gives each context token
    the index of its sentence, so an answer never runs from one sentence into the next.

    With `merge_within`, a second span of the same segment that does not overlap the best and scores within
    `merge_within` of it is joined to it (the answer then runs from the first to the second, if that fits
    in `max_answer_tokens`): a span model scores each of two coordinated answers ("X and Y co-chaired") about
    equally, and one of them alone is half the answer.
    """
    lo, hi = window.context_start, window.context_end
    if hi <= lo:
        return None
    s = start_logits[lo:hi].astype(np.float64)
    e = end_logits[lo:hi].astype(np.float64)
    n = hi - lo
    # score[i, j] = s[i] + e[j] for i <= j < i + max_answer_tokens
    grid = s[:, None] + e[None, :]
    idx = np.arange(n)
    valid = (idx[None, :] >= idx[:, None]) & (idx[None, :] - idx[:, None] < max_answer_tokens)
    if segments is not None:
        seg = np.asarray(segments[lo:hi])
        valid &= seg[:, None] == seg[None, :]
    if not valid.any():
        return None
    grid = np.where(valid, grid, -np.inf)
    flat = int(np.argmax(grid))
    i, j = divmod(flat, n)
    best_score = float(grid[i, j])
    if merge_within is not None:
        # Spans wholly before or wholly after the best one, in its segment.
        apart = (idx[None, :] < i) | (idx[:, None] > j)
        if segments is not None:
            same = seg == seg[i]
            apart &= same[:, None] & same[None, :]
        other = np.where(apart & valid, grid, -np.inf)
        k = int(np.argmax(other))
        i2, j2 = divmod(k, n)
        lo2, hi2 = min(i, i2), max(j, j2)
        if other[i2, j2] >= best_score - merge_within and hi2 - lo2 < max_answer_tokens:
            i, j = lo2, hi2
    null = float(start_logits[0]) + float(end_logits[0])
    # Probability of this span among all valid spans and [CLS] (a joint softmax over start+end pairs).
    finite = grid[valid]
    top = max(float(finite.max()), null)
    total = float(np.exp(finite - top).sum() + np.exp(null - top))
    prob = float(np.exp(best_score - top) / total)
    return SpanScore(start=lo + i, end=lo + j, score=best_score, null_score=null, probability=prob)


def trainable_names(state_keys: Sequence[str], frozen_layers: int) -> list[str]:
    """The parameter names training changes: encoder layers from `frozen_layers` up, and the head.

    The embeddings (word, position, type and their LayerNorm) and the lower layers stay as the base model.
    """
    names = []
    for key in state_keys:
        if key.startswith(HEAD_PREFIX):
            names.append(key)
        elif key.startswith("encoder.encoder.layer."):
            layer = int(key.split(".")[3])
            if layer >= frozen_layers:
                names.append(key)
    return names


def build_network(base: Any) -> Any:
    """A span-QA network around `base` (a transformers BertModel); returns a torch Module."""
    import torch
    from torch import nn

    class SpanQANetwork(nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder
            self.qa_outputs = nn.Linear(int(encoder.config.hidden_size), 2)

        def forward(
            self,
            input_ids: torch.Tensor | None,
            attention_mask: torch.Tensor,
            inputs_embeds: torch.Tensor | None = None,
        ) -> tuple[torch.Tensor, torch.Tensor]:
            """(start, end) logits of token ids, or of their word-embedding rows (`inputs_embeds`, for the
            ONNX export whose table lives outside the graph)."""
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds
            ).last_hidden_state
            logits = self.qa_outputs(hidden)
            start, end = logits.unbind(dim=-1)
            return start, end

    return SpanQANetwork(base)


def load_base(base_dir: Path | str) -> Any:
    """The base encoder (a BertModel without pooler) from a converted model folder."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "pooler weights not initialised": we never use the pooler
    try:
        return AutoModel.from_pretrained(str(base_dir), add_pooling_layer=False)
    finally:
        hf_logging.set_verbosity(verbosity)


def export_weights(network: Any, names: Sequence[str], out_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write the tensors `names` of `network` in float16 and a manifest with their sha256, atomically.

    The folder is written beside `out_dir` and renamed into place, so a reader never sees half of it.
    """
    import shutil

    from safetensors.torch import save_file

    state = network.state_dict()
    tensors = {name: state[name].detach().to("cpu").half().contiguous() for name in names}
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        os.chmod(staging, 0o755)  # mkdtemp makes it private; weights are not secret
        save_file(tensors, str(staging / WEIGHTS_FILE))
        info = dict(manifest)
        info.update(
            {
                "format": FORMAT_VERSION,
                "weights": WEIGHTS_FILE,
                "sha256": sha256_file(staging / WEIGHTS_FILE),
                "tensors": len(tensors),
                "parameters": int(sum(t.numel() for t in tensors.values())),
            }
        )
        (staging / MANIFEST_FILE).write_text(
            json.dumps(info, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        publish_folder(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir
