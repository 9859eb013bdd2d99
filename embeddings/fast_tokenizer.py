"""The model's tokenizer on the `tokenizers` library alone, for the ONNX paths.

transformers' tokenizer classes import transformers' configuration modules, which import torch when it is
installed: about 4 s of a cold start on the 2-core target, for a serving path (ONNX Runtime) that needs no
torch. This reads the same `tokenizer.json` (the same normaliser, pre-tokeniser and vocabulary, hence the same
ids and offsets; tests/test_fast_tokenizer.py compares them with transformers') and offers the part of the
transformers call that the encoder and the reader use.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.errors import EmbeddingModelError

_OPEN: dict[str, FastTokenizer] = {}
_OPEN_LOCK = threading.Lock()


class FastTokenizer:
    """`tokenizer.json` of a model folder, with its `<s>`/`</s>`/`<pad>` ids (XLM-R's layout: `<s> A </s>`).

    `FastTokenizer.open` gives one instance per tokenizer content: parsing XLM-R's 250k-piece vocabulary
    takes seconds, and the encoder and the reader use the same one.
    """

    @classmethod
    def open(cls, folder: Path | str) -> FastTokenizer:
        try:
            key = hashlib.sha256((Path(folder) / "tokenizer.json").read_bytes()).hexdigest()
        except OSError as exc:
            raise EmbeddingModelError(f"Cannot read the tokenizer in {folder}: {exc}") from exc
        with _OPEN_LOCK:
            if key not in _OPEN:
                _OPEN[key] = cls(folder)
            return _OPEN[key]

    def __init__(self, folder: Path | str) -> None:
        from tokenizers import Tokenizer

        folder = Path(folder)
        try:
            self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
            special = self._special_tokens(folder)
        except Exception as exc:  # tokenizers raises its own exception type for unreadable files
            raise EmbeddingModelError(f"Cannot read the tokenizer in {folder}: {exc}") from exc
        ids: dict[str, int] = {}
        for name, token in special.items():
            found = self._tok.token_to_id(token)
            if found is None:
                raise EmbeddingModelError(f"The tokenizer in {folder} lacks the {name} token {token!r}")
            ids[name] = int(found)
        self.cls_token_id = ids["cls"]
        self.sep_token_id = ids["sep"]
        self.pad_token_id = ids["pad"]

    @staticmethod
    def _special_tokens(folder: Path) -> dict[str, str]:
        config: dict[str, Any] = {}
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            if (folder / name).is_file():
                config.update(json.loads((folder / name).read_text(encoding="utf-8")))

        def token(key: str, default: str) -> str:
            value = config.get(key, default)
            return str(value.get("content", default) if isinstance(value, dict) else value)

        return {
            "cls": token("cls_token", "<s>"),
            "sep": token("sep_token", "</s>"),
            "pad": token("pad_token", "<pad>"),
        }

    def __call__(
        self, text: str, *, add_special_tokens: bool = True, return_offsets_mapping: bool = False
    ) -> dict[str, list[Any]]:
        """One text: ``input_ids`` (and ``offset_mapping``), as transformers' tokenizer call gives them."""
        enc = self._tok.encode(text, add_special_tokens=add_special_tokens)
        out: dict[str, list[Any]] = {"input_ids": list(enc.ids)}
        if return_offsets_mapping:
            out["offset_mapping"] = list(enc.offsets)
        return out

    def batch(
        self, texts: Sequence[str], max_length: int, *, pad_to_multiple_of: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """(input ids, attention mask) of `texts` as `<s> text </s>`, each cut to `max_length` tokens and
        padded to the longest, rounded up to a multiple of `pad_to_multiple_of` (transformers' ``padding=True,
        truncation=True, pad_to_multiple_of=...``)."""
        rows = []
        for enc in self._tok.encode_batch(list(texts), add_special_tokens=False):
            rows.append([self.cls_token_id, *enc.ids[: max_length - 2], self.sep_token_id])
        width = max((len(r) for r in rows), default=0)
        width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
        ids = np.full((len(rows), width), self.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return ids, mask

    def count(self, text: str) -> int:
        """Tokens of `text` with `<s>` and `</s>`, untruncated."""
        return len(self._tok.encode(text, add_special_tokens=False).ids) + 2
