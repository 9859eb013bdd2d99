"""Readers turn retrieved passages into a short answer: the trained span reader (default, `trained.py`) and
readers backed by another transformers model (`hf.py`), chosen by name in `registry.py`."""
