"""`build_reader`: the one place a reader is chosen by name.

    build_reader("trained@onnx", encoder)                      # the default: the shipped span model, ONNX fp32
    build_reader("trained", encoder)                           # the same network in torch
    build_reader("trained:/path/to/exported/weights", encoder) # another export of training/train_reader.py
    build_reader("trained@onnx-int8", encoder)                 # on ONNX Runtime, int8 ("@onnx": fp32)
    build_reader("hf-qa:/models/xlm-roberta-squad2", encoder)  # an extractive-QA model, hub id or local path
    build_reader("hf-generate:/models/some-instruct-lm", encoder)  # a causal LM with a grounded prompt

Readers are imported when chosen, so choosing one never loads another's dependencies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from embeddings.encoder import Encoder
from qa.errors import ReaderSpecError
from qa.readers.base import Reader

# fp32 ONNX Runtime gives the torch network's answers without importing torch (see qa.config.Settings.reader).
DEFAULT_READER = "trained@onnx"
TRAINED_PREFIX = "trained:"
HF_QA_PREFIX = "hf-qa:"
HF_GENERATE_PREFIX = "hf-generate:"
READER_CHOICES = (
    "trained",
    f"{TRAINED_PREFIX}<weights folder>",
    "trained[:<weights folder>]@onnx|@onnx-int8",
    f"{HF_QA_PREFIX}<model id or path>",
    f"{HF_GENERATE_PREFIX}<model id or path>",
)


def build_reader(spec: str, encoder: Encoder, *, cache_dir: Path | None = None, **options: Any) -> Reader:
    """The reader a settings string names.

    Args:
        spec: one of `READER_CHOICES`.
        encoder: the retriever's embedding model (shared with the readers that use it).
        cache_dir: where the trained reader converts its base model when the encoder is another model.
        options: keyword options for the reader's constructor.
    Raises:
        ReaderSpecError: an unknown spec, or a prefix with nothing after it.
        ReaderWeightsError: the trained reader's weights are missing or corrupt.
    """
    text = (spec or "").strip()
    if text == "trained" or text.startswith(TRAINED_PREFIX) or text.startswith("trained@"):
        from qa.readers.trained import BACKENDS, DEFAULT_WEIGHTS_DIR, TrainedReader

        name, at, backend = text.rpartition("@") if "@" in text else (text, "", "torch")
        if at and backend not in BACKENDS:
            raise ReaderSpecError(
                f"Reader {spec!r}: unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}."
            )
        folder = _named(name, spec, TRAINED_PREFIX) if name != "trained" else str(DEFAULT_WEIGHTS_DIR)
        return TrainedReader(
            encoder,
            weights_dir=Path(folder).expanduser(),
            cache_dir=cache_dir,
            backend=backend,
            **options,
        )
    if text.startswith(HF_QA_PREFIX) or text.startswith(HF_GENERATE_PREFIX):
        from qa.readers.hf import HFGenerativeReader, HFQAReader

        prefix, cls = (
            (HF_QA_PREFIX, HFQAReader)
            if text.startswith(HF_QA_PREFIX)
            else (HF_GENERATE_PREFIX, HFGenerativeReader)
        )
        model = _named(text, spec, prefix)
        # Where the model finds nothing it can support, the default reader answers (or abstains).
        return cls(model, fallback=build_reader(DEFAULT_READER, encoder, cache_dir=cache_dir), **options)
    raise ReaderSpecError(f"Unknown reader {spec!r}; choose one of: {', '.join(READER_CHOICES)}.")


def _named(text: str, spec: str, prefix: str) -> str:
    name = text[len(prefix) :].strip()
    if not name:
        raise ReaderSpecError(f"Reader {spec!r} names nothing; write {prefix}<…>.")
    return name
