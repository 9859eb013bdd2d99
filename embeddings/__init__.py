"""Embedding models and the vector index. Knows vectors and ids; never imports `qa`."""

from embeddings.encoder import Encoder, HashingEncoder, SentenceTransformerEncoder, load_encoder

__all__ = ["Encoder", "HashingEncoder", "SentenceTransformerEncoder", "load_encoder"]
