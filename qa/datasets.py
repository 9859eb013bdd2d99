"""Evaluation data: questions with known answers, read from the project's JSONL or SQuAD v1.1/XQuAD JSON.

JSONL (one object a line)::

    {"id": "hi-kl-where", "question": "…कहाँ हुई थी?", "answers": ["कुआलालंपुर"], "doc": "2025-11-06-…"}
    {"id": "un-paneer", "question": "…", "answers": [], "unanswerable": true}
    {"id": "fu-1", "question": "और अमेरिका की ओर से?", "answers": ["…"],
     "history": [{"question": "…", "answer": "…"}]}

SQuAD: every paragraph becomes a `Document` (the corpus the questions are asked against) and is the gold
document of its questions. SQuAD 2.0's ``is_impossible`` marks unanswerable questions.

Every problem raises `DatasetError` naming the file and, where it can be found, the line.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from qa.errors import DatasetError
from qa.text import DEVANAGARI
from qa.types import Document, Turn

Format = Literal["jsonl", "squad"]
FORMATS: tuple[str, ...] = ("jsonl", "squad")


@dataclass(frozen=True)
class Example:
    """One question with its accepted answers.

    `doc` is the id of the article (or SQuAD paragraph) that holds the answer, when known; `line` is where
    the example was read, for messages.
    """

    id: str
    question: str
    answers: tuple[str, ...]
    unanswerable: bool = False
    doc: str | None = None
    history: tuple[Turn, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class Dataset:
    """Examples, plus the documents to index when the file brings its own (SQuAD)."""

    path: Path
    format: str
    fingerprint: str
    examples: tuple[Example, ...]
    documents: tuple[Document, ...] | None = None
    questions_from: Path | None = None


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def file_fingerprint(data: bytes) -> str:
    """A short content hash of a data file (names its cached index)."""
    return hashlib.sha256(data).hexdigest()[:16]


def _read(path: Path) -> tuple[bytes, str]:
    if not path.exists():
        raise DatasetError(path, "no such file")
    if path.is_dir():
        raise DatasetError(path, "is a folder, not a data file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(path, f"cannot be read: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DatasetError(path, f"not UTF-8 text (byte {exc.start})", line) from exc
    if not text.strip():
        raise DatasetError(path, "the file is empty")
    return data, text


def detect_format(path: Path, text: str) -> str:
    """``.jsonl`` → jsonl; ``.json`` → squad; otherwise a whole-file JSON object with ``data`` → squad."""
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix == ".json":
        return "squad"
    if text.lstrip().startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            return "jsonl"  # several objects: one per line
        if isinstance(obj, dict) and "data" in obj:
            return "squad"
    return "jsonl"


def load_dataset(
    path: str | Path, format: str | None = None, *, questions_from: str | Path | None = None
) -> Dataset:
    """Read an evaluation file.

    Args:
        path: a JSONL or SQuAD/XQuAD JSON file.
        format: ``"jsonl"`` or ``"squad"``; detected from the suffix / content when None.
        questions_from: another file (either format) whose questions replace those of the same ids
            (e.g. XQuAD English questions against Hindi paragraphs; the gold answers stay).
    Raises:
        DatasetError: the file is missing, empty, malformed, or an id is missing in `questions_from`.
    """
    path = Path(path)
    data, text = _read(path)
    fmt = format or detect_format(path, text)
    if fmt not in FORMATS:
        raise DatasetError(path, f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    documents: tuple[Document, ...] | None = None
    if fmt == "jsonl":
        examples = _parse_jsonl(path, text)
    else:
        examples, documents = _parse_squad(path, text)
    if not examples:
        raise DatasetError(path, "contains no questions")
    qpath = None
    if questions_from is not None:
        qpath = Path(questions_from)
        examples = _replace_questions(path, examples, qpath)
    return Dataset(
        path=path,
        format=fmt,
        fingerprint=file_fingerprint(data),
        examples=examples,
        documents=documents,
        questions_from=qpath,
    )


# --- JSONL ---------------------------------------------------------------------------------------------


def _str_field(path: Path, line: int, obj: dict, key: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise DatasetError(path, f"missing field {key!r}", line)
        return None
    if not isinstance(value, str):
        raise DatasetError(path, f"field {key!r} must be a string, not {type(value).__name__}", line)
    if required and not value.strip():
        raise DatasetError(path, f"field {key!r} is empty", line)
    return _nfc(value)


def _parse_history(path: Path, line: int, value: Any) -> tuple[Turn, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise DatasetError(path, f"field 'history' must be a list of turns, not {type(value).__name__}", line)
    turns = []
    for i, turn in enumerate(value):
        if (
            not isinstance(turn, dict)
            or not isinstance(turn.get("question"), str)
            or not isinstance(turn.get("answer"), str)
        ):
            raise DatasetError(
                path, f"history[{i}] must be an object with string fields 'question' and 'answer'", line
            )
        turns.append(Turn(_nfc(turn["question"]), _nfc(turn["answer"])))
    return tuple(turns)


def _parse_example(path: Path, line: int, obj: Any) -> Example:
    if not isinstance(obj, dict):
        raise DatasetError(path, f"expected a JSON object, got {type(obj).__name__}", line)
    ex_id = obj.get("id")
    if ex_id is None:
        raise DatasetError(path, "missing field 'id'", line)
    if not isinstance(ex_id, (str, int)) or isinstance(ex_id, bool) or str(ex_id).strip() == "":
        raise DatasetError(path, "field 'id' must be a non-empty string", line)
    question = _str_field(path, line, obj, "question")
    unanswerable = obj.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise DatasetError(path, "field 'unanswerable' must be true or false", line)
    answers = obj.get("answers")
    if answers is None:
        if not unanswerable:
            raise DatasetError(
                path, "missing field 'answers' (or mark the question \"unanswerable\": true)", line
            )
        answers = []
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise DatasetError(path, "field 'answers' must be a list of strings", line)
    answers = [_nfc(a) for a in answers if a.strip()]
    if unanswerable and answers:
        raise DatasetError(path, "an unanswerable question cannot have accepted answers", line)
    if not unanswerable and not answers:
        raise DatasetError(
            path,
            "field 'answers' is empty; give at least one accepted answer or mark the "
            'question "unanswerable": true',
            line,
        )
    doc = _str_field(path, line, obj, "doc", required=False)
    return Example(
        id=str(ex_id),
        question=question or "",
        answers=tuple(answers),
        unanswerable=unanswerable,
        doc=doc or None,
        history=_parse_history(path, line, obj.get("history")),
        line=line,
    )


def _parse_jsonl(path: Path, text: str) -> tuple[Example, ...]:
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DatasetError(path, f"not valid JSON: {exc.msg} (column {exc.colno})", line_no) from exc
        example = _parse_example(path, line_no, obj)
        if example.id in seen:
            raise DatasetError(
                path, f"duplicate id {example.id!r} (first on line {seen[example.id]})", line_no
            )
        seen[example.id] = line_no
        examples.append(example)
    return tuple(examples)


# --- SQuAD ---------------------------------------------------------------------------------------------


def _slug(title: str) -> str:
    slug = re.sub(rf"[^\w{DEVANAGARI}]+", "-", _nfc(title).casefold()).strip("-")
    return slug or "article"


def _line_of(text: str, needle: str) -> int | None:
    pos = text.find(needle)
    return None if pos < 0 else text.count("\n", 0, pos) + 1


def _parse_squad(path: Path, text: str) -> tuple[tuple[Example, ...], tuple[Document, ...]]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(path, f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
        raise DatasetError(path, "not a SQuAD file: expected an object with a 'data' list of articles", 1)

    def fail(where: str, reason: str, needle: str | None = None) -> DatasetError:
        line = _line_of(text, needle) if needle else None
        return DatasetError(path, f"{where}: {reason}", line)

    examples: list[Example] = []
    documents: list[Document] = []
    # Question ids appear in file order: find each one after the previous to number lines in one pass.
    cursor, cursor_line = 0, 1

    def line_after(needle: str) -> int | None:
        nonlocal cursor, cursor_line
        pos = text.find(needle, cursor)
        if pos < 0:
            return _line_of(text, needle)
        cursor_line += text.count("\n", cursor, pos)
        cursor = pos
        return cursor_line

    used_slugs: set[str] = set()
    seen_ids: set[str] = set()
    for a_i, article in enumerate(obj["data"]):
        where_a = f"data[{a_i}]"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise fail(where_a, "an article must be an object with a 'paragraphs' list")
        title = article.get("title")
        if title is not None and not isinstance(title, str):
            raise fail(where_a, "'title' must be a string")
        title = _nfc(title or f"article {a_i}")
        slug = _slug(title)
        if slug in used_slugs:
            slug = f"{slug}-{a_i}"
        used_slugs.add(slug)
        for p_i, para in enumerate(article["paragraphs"]):
            where_p = f"{where_a}.paragraphs[{p_i}]"
            if not isinstance(para, dict):
                raise fail(where_p, "a paragraph must be an object with 'context' and 'qas'")
            context = para.get("context")
            if not isinstance(context, str) or not context.strip():
                raise fail(where_p, "missing or empty 'context'")
            qas = para.get("qas")
            if not isinstance(qas, list):
                raise fail(where_p, "missing 'qas' list", context[:40])
            doc_id = f"{slug}-p{p_i}"
            documents.append(
                Document(
                    id=doc_id,
                    title=title.replace("_", " "),
                    text=_nfc(context),
                    source=f"{path.name}#{where_p}",
                )
            )
            for q_i, qa in enumerate(qas):
                where_q = f"{where_p}.qas[{q_i}]"
                if not isinstance(qa, dict):
                    raise fail(where_q, "a question must be an object")
                qid = qa.get("id")
                needle = f'"{qid}"' if isinstance(qid, str) else None
                if not isinstance(qid, (str, int)) or isinstance(qid, bool) or str(qid).strip() == "":
                    raise fail(where_q, "missing or non-string 'id'")
                qid = str(qid)
                if qid in seen_ids:
                    raise fail(where_q, f"duplicate id {qid!r}", needle)
                seen_ids.add(qid)
                question = qa.get("question")
                if not isinstance(question, str) or not question.strip():
                    raise fail(where_q, f"question {qid!r} has a missing or empty 'question'", needle)
                impossible = qa.get("is_impossible", False)
                if not isinstance(impossible, bool):
                    raise fail(where_q, f"question {qid!r}: 'is_impossible' must be true or false", needle)
                answers = qa.get("answers", [])
                if not isinstance(answers, list) or not all(
                    isinstance(a, dict) and isinstance(a.get("text"), str) for a in answers
                ):
                    raise fail(
                        where_q, f"question {qid!r}: 'answers' must be a list of {{\"text\": …}}", needle
                    )
                texts = tuple(dict.fromkeys(_nfc(a["text"]) for a in answers if a["text"].strip()))
                if impossible:
                    texts = ()
                elif not texts:
                    raise fail(where_q, f"question {qid!r} has no answers and is not 'is_impossible'", needle)
                examples.append(
                    Example(
                        id=qid,
                        question=_nfc(question),
                        answers=texts,
                        unanswerable=impossible,
                        doc=None if impossible else doc_id,
                        line=line_after(needle) if needle else None,
                    )
                )
    if not documents:
        raise DatasetError(path, "contains no paragraphs")
    return tuple(examples), tuple(documents)


# --- questions from another file ------------------------------------------------------------------------


def _replace_questions(path: Path, examples: tuple[Example, ...], qpath: Path) -> tuple[Example, ...]:
    other = load_dataset(qpath)
    by_id = {ex.id: ex.question for ex in other.examples}
    missing = [ex for ex in examples if ex.id not in by_id]
    if missing:
        first = missing[0]
        where = f" (asked on {path.name}:{first.line})" if first.line else ""
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise DatasetError(
            qpath,
            f"has no question with id {first.id!r}{where}{more}; --questions-from "
            f"needs every id of {path.name}",
        )
    return tuple(replace(ex, question=by_id[ex.id]) for ex in examples)
