"""Errors of the embeddings package (kept here so `embeddings` never imports `qa`)."""

from __future__ import annotations


class EmbeddingError(Exception):
    """Base class of the embeddings package's errors."""


class EmbeddingModelError(EmbeddingError):
    """The embedding model cannot be found, converted or loaded."""


class VectorIndexError(EmbeddingError):
    """A saved vector index is missing, corrupt or does not match what was asked for."""
