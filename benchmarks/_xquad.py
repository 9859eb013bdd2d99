"""Shared loading of XQuAD for the benchmark scripts (read from ../shared/benchmarks/xquad/, never committed)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
XQUAD_DIR = REPO.parent / "shared" / "benchmarks" / "xquad"
# Articles 0-9 are the tuning split: reader settings and the per-language thresholds are chosen on them; the
# figures that matter are on articles 10-47 (`--split test`).
TUNE_ARTICLES = 10


@dataclass(frozen=True)
class XQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    doc_id: str
    article: int


def require_xquad() -> Path:
    if not (XQUAD_DIR / "xquad.hi.json").is_file():
        sys.exit(f"XQuAD not found at {XQUAD_DIR} (expected ../shared/benchmarks/xquad/ beside the repo).")
    return XQUAD_DIR


def load_xquad(lang: str = "hi", questions_lang: str | None = None):
    """Paragraphs of xquad.<lang>.json as (doc_id, title, text) and its questions; with `questions_lang`
    the questions of the same ids come from xquad.<questions_lang>.json (gold answers stay `lang`'s)."""
    folder = require_xquad()
    data = json.loads((folder / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
    other: dict[str, str] = {}
    if questions_lang and questions_lang != lang:
        for art in json.loads((folder / f"xquad.{questions_lang}.json").read_text(encoding="utf-8"))["data"]:
            for para in art["paragraphs"]:
                for qa in para["qas"]:
                    other[qa["id"]] = qa["question"]
    paragraphs, questions = [], []
    for a, art in enumerate(data):
        for p, para in enumerate(art["paragraphs"]):
            doc_id = f"a{a:02d}-p{p}"
            paragraphs.append((doc_id, art["title"], para["context"]))
            for qa in para["qas"]:
                q = other.get(qa["id"], qa["question"]) if other else qa["question"]
                questions.append(XQuestion(qa["id"], q, tuple(x["text"] for x in qa["answers"]), doc_id, a))
    return paragraphs, questions
