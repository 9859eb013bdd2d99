"""`build_reader` and the transformers-backed readers, offline.

The models are tiny, randomly initialised BERT (question answering) and GPT-2 (generation) models built from a
config in the test, with a word-level tokenizer made with the `tokenizers` library, saved under tmp_path. They
answer nonsense; the tests check the wiring: spans map back to the cited source, unsupported generations are
rejected, the fallback answers instead.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from qa.errors import ModelError, QAError, ReaderSpecError
from qa.language import ABSTAIN_MESSAGES
from qa.readers.hf import (
    HFGenerativeReader,
    HFQAReader,
    supported_span,
    token_support,
)
from qa.readers.registry import build_reader
from qa.readers.trained import TrainedReader
from qa.types import Answer, Chunk, Hit

PASSAGES = [
    "इस बैठक की सह-अध्यक्षता एयर मार्शल अशुतोष दीक्षित और लेफ्टिनेंट जनरल जोशुआ एम. रुड ने की।",
    "भारत और अमेरिका के बीच 22वीं बैठक हवाई में सम्पन्न हुई। रक्षा सहयोग पर चर्चा हुई।",
]
QUESTION = "बैठक की सह-अध्यक्षता किसने की?"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def hits() -> list[Hit]:
    out, start = [], 0
    for n, text in enumerate(PASSAGES):
        text = nfc(text)
        out.append(
            Hit(
                chunk=Chunk(id=f"d#{n}", doc_id="d", text=text, start=start, end=start + len(text)),
                title="बैठक",
                date=None,
                score=1.0 - n / 10,
            )
        )
        start += len(text) + 1
    return out


def _tokenizer(folder: Path, *, pair_template: bool) -> None:
    """A word-level tokenizer over the test texts, saved as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words: list[str] = []
    pre = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    for text in PASSAGES + [QUESTION, "Answer briefly using only the passages below"]:
        for word, _ in pre.pre_tokenize_str(nfc(text)):
            if word not in words:
                words.append(word)
    vocab = {w: i for i, w in enumerate(specials + words)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre
    if pair_template:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    if not pair_template:
        fast.eos_token = "[SEP]"
    fast.save_pretrained(folder)
    return len(vocab)


@pytest.fixture(scope="module")
def tiny_qa_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    folder = tmp_path_factory.mktemp("tiny-bert-qa")
    vocab_size = _tokenizer(folder, pair_template=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        type_vocab_size=2,
    )
    BertForQuestionAnswering(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    vocab_size = _tokenizer(folder, pair_template=False)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=vocab_size, n_positions=512, n_embd=32, n_layer=1, n_head=2)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


class StubReader:
    """A fallback that says so."""

    name = "stub"

    def read(self, question, hits, *, language, focus=None) -> Answer:
        return Answer(
            question=question,
            text="stub answer",
            abstained=False,
            confidence=0.5,
            language=language,
            reader=self.name,
        )


def assert_span_of_source(answer: Answer) -> None:
    source = answer.sources[0]
    assert source.answer_start is not None
    assert source.text[source.answer_start : source.answer_end] == answer.text
    assert answer.text.strip() == answer.text and answer.text


# ------------------------------------------------------------------------------------------- build_reader


def test_build_reader_choices(hashing_encoder):
    assert isinstance(build_reader("trained", hashing_encoder), TrainedReader)
    assert isinstance(build_reader(" trained ", hashing_encoder, threshold=0.1), TrainedReader)
    qa = build_reader("hf-qa:/some/folder", hashing_encoder)
    assert isinstance(qa, HFQAReader) and qa.name == "hf-qa:/some/folder"
    assert isinstance(qa.fallback, TrainedReader)
    assert isinstance(build_reader("hf-generate:org/model", hashing_encoder), HFGenerativeReader)


@pytest.mark.parametrize(
    "spec", ["", "llm", "hf-qa:", "hf-generate:  ", "Trained", "trained:", "extractive", "rules"]
)
def test_build_reader_names_the_valid_choices(hashing_encoder, spec):
    with pytest.raises(ReaderSpecError) as info:
        build_reader(spec, hashing_encoder)
    assert isinstance(info.value, QAError) and isinstance(info.value, ValueError)
    assert "hf-qa:" in str(info.value) or "names nothing" in str(info.value)


def test_building_does_not_load_a_model(hashing_encoder, tmp_path):
    reader = build_reader(f"hf-qa:{tmp_path / 'missing'}", hashing_encoder)  # nothing is read yet
    with pytest.raises(ModelError, match="missing"):
        reader.read(QUESTION, hits(), language="hi")


# ------------------------------------------------------------------------------------------- hf-qa


def test_hf_qa_span_maps_back_to_the_source(tiny_qa_model):
    reader = HFQAReader(str(tiny_qa_model), min_score=0.0)
    answer = reader.read(nfc(QUESTION), hits(), language="hi")
    assert not answer.abstained and answer.reader == f"hf-qa:{tiny_qa_model}"
    assert_span_of_source(answer)
    assert answer.sources[0].text in [h.chunk.text for h in hits()]
    assert answer.sentence and answer.text in answer.sentence
    assert 0.0 <= answer.confidence <= 1.0


def test_hf_qa_reads_long_chunks_in_windows(tiny_qa_model):
    long_text = nfc(" ".join([PASSAGES[1]] * 30))
    hit = Hit(
        chunk=Chunk(id="l#0", doc_id="l", text=long_text, start=0, end=len(long_text)),
        title="t",
        date=None,
        score=1.0,
    )
    answer = HFQAReader(str(tiny_qa_model), min_score=0.0, max_length=64, stride=16).read(
        nfc(QUESTION), [hit], language="hi"
    )
    assert_span_of_source(answer)


def test_hf_qa_low_score_falls_back_or_abstains(tiny_qa_model):
    answer = HFQAReader(str(tiny_qa_model), min_score=1.01).read(nfc(QUESTION), hits(), language="en")
    assert answer.abstained and answer.text == ABSTAIN_MESSAGES["en"]
    answer = HFQAReader(str(tiny_qa_model), min_score=1.01, fallback=StubReader()).read(
        nfc(QUESTION), hits(), language="hi"
    )
    assert answer.text == "stub answer"


# ------------------------------------------------------------------------------------------- hf-generate


def test_supported_span_ignores_punctuation_and_case_but_not_word_edges():
    text = nfc("इस बैठक की सह-अध्यक्षता एयर मार्शल अशुतोष दीक्षित ने की। Mr Daniel P. Driscoll came.")
    start, end = supported_span("अशुतोष दीक्षित।", text)
    assert text[start:end] == "अशुतोष दीक्षित"
    start, end = supported_span("daniel p driscoll", text)
    assert text[start:end] == "Daniel P. Driscoll"
    assert supported_span("दीक्षि", text) is None  # part of a word is not support
    assert supported_span("हवाई", text) is None
    assert supported_span("!!", text) is None
    assert token_support("एयर मार्शल दीक्षित", text) == 1.0
    assert token_support("चीन सीमा", text) == 0.0


def test_generation_is_grounded_in_the_passages(tiny_lm):
    reader = HFGenerativeReader(str(tiny_lm))
    prompt = reader.prompt(nfc(QUESTION), hits(), "hi")
    assert nfc(PASSAGES[0]) in prompt and nfc(QUESTION) in prompt
    assert isinstance(reader.generate(prompt), str)  # the real generation path runs on the tiny model


def test_generated_verbatim_answer_becomes_a_span(tiny_lm, monkeypatch):
    reader = HFGenerativeReader(str(tiny_lm), fallback=StubReader())
    monkeypatch.setattr(reader, "generate", lambda prompt: "एयर मार्शल अशुतोष दीक्षित")
    answer = reader.read(nfc(QUESTION), hits(), language="hi")
    assert answer.reader == f"hf-generate:{tiny_lm}" and not answer.abstained
    assert_span_of_source(answer)
    assert answer.text == nfc("एयर मार्शल अशुतोष दीक्षित")


def test_generated_paraphrase_with_high_overlap_is_cited_without_a_span(tiny_lm, monkeypatch):
    reader = HFGenerativeReader(str(tiny_lm), fallback=StubReader(), min_overlap=0.8)
    monkeypatch.setattr(reader, "generate", lambda prompt: "दीक्षित और रुड ने सह-अध्यक्षता की")
    answer = reader.read(nfc(QUESTION), hits(), language="hi")
    assert not answer.abstained and answer.text == "दीक्षित और रुड ने सह-अध्यक्षता की"
    assert answer.sources[0].answer_start is None and answer.sentence == nfc(PASSAGES[0])


@pytest.mark.parametrize("generated", ["भारत और चीन ने सीमा समझौता किया", "पता नहीं", "", "unknown"])
def test_unsupported_generation_is_rejected(tiny_lm, monkeypatch, generated):
    reader = HFGenerativeReader(str(tiny_lm), fallback=StubReader())
    monkeypatch.setattr(reader, "generate", lambda prompt: generated)
    answer = reader.read(nfc(QUESTION), hits(), language="hi")
    assert answer.text == "stub answer" and answer.reader == f"hf-generate:{tiny_lm} -> stub"
    reader = HFGenerativeReader(str(tiny_lm), fallback=None)
    monkeypatch.setattr(reader, "generate", lambda prompt: generated)
    answer = reader.read(nfc(QUESTION), hits(), language="en")
    assert answer.abstained and answer.text == ABSTAIN_MESSAGES["en"]


def test_random_model_end_to_end_keeps_the_invariants(tiny_lm, hashing_encoder):
    reader = build_reader(f"hf-generate:{tiny_lm}", hashing_encoder)
    answer = reader.read(nfc(QUESTION), hits(), language="hi")
    if not answer.abstained and answer.sources and answer.sources[0].answer_start is not None:
        assert_span_of_source(answer)
    assert 0.0 <= answer.confidence <= 1.0
