"""Read news articles from disk into `Document`s.

Three layouts are accepted, all UTF-8 (a BOM is dropped, CRLF becomes LF, text is NFC-normalised here, once):

1. The seed articles: a first line ``date 2025-11-06 <anything>`` (a category, or "Last Updated on ... by X"),
   then the article. The headline, when there is one, is the first short line of the article.
2. A metadata header: leading ``title: ...``, ``date: YYYY-MM-DD``, ``source: ...`` lines, optionally between
   ``---`` lines (front matter), ended by a blank line.
3. Plain text or Markdown with no header; in Markdown a leading ``# Heading`` is the title.

`Document.text` is the article body: the header (the ``date`` line or the metadata lines) is left out,
everything after it is kept verbatim (headline, byline and dateline lines included), only the outer blank
space is trimmed.
A leading Markdown heading keeps its words but loses its ``#`` marks. Chunk offsets point into this text.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import logging
import re
import unicodedata
from collections.abc import Container, Iterable
from pathlib import Path

from qa.errors import CorpusError
from qa.text import DEVANAGARI
from qa.types import Document

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md")

#: A headline longer than this is treated as a sentence of the article, not as its title.
MAX_TITLE_LINE_CHARS = 160
#: Titles derived from the first sentence are cut to about this many characters (at a word boundary).
DERIVED_TITLE_CHARS = 80

_SEED_DATE_RE = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\b[^\n]*$", re.IGNORECASE)
_META_KEYS = ("title", "date", "source", "author", "url", "category", "tags", "language", "lang")
_META_LINE_RE = re.compile(r"^\s*(" + "|".join(_META_KEYS) + r")\s*:\s*(.*?)\s*$", re.IGNORECASE)
_FRONT_MATTER_LINE_RE = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$")
_MD_HEADING_RE = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FILENAME_DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\b|_)")
# A byline or dateline above the article ("AMN / NEWS DESK", "Nov 06, 2025, 03:54 AM"): no Devanagari and no
# lower-case Latin letters. Such lines are not headlines.
_BYLINE_RE = re.compile(
    rf"^[^a-z{DEVANAGARI}]*$"
    rf"|^[A-Z][a-z]{{2,8}}\.? \d{{1,2}},? \d{{4}}\b[^{DEVANAGARI}]*$"
)
# Only unambiguous sentence ends: a '.' may be an initial ("डैनियल पी. ड्रिस्कॉल").
_SENTENCE_END_RE = re.compile(r"[।॥?!]")
_SLUG_DROP_RE = re.compile(r"[^\w\u0900-\u0963\u0966-\u097F]+")
_CONTROL_OK = {"\n", "\r", "\t", "\f", "\v"}


def load_corpus(folder: Path, *, max_bytes: int = 5_000_000) -> list[Document]:
    """Read every supported article under `folder` (recursively), sorted by relative path.

    Hidden files and folders (names starting with ``.``) are skipped; files with other suffixes are skipped
    with a warning. Ids come from file name stems and are made unique in path order (``-2``, ``-3``, ...).

    Raises:
        CorpusError: the folder is missing or not a folder, holds no articles, or one article is unreadable.
    """
    documents: list[Document] = []
    for doc_id, path in corpus_files(folder).items():
        doc = load_document(path, max_bytes=max_bytes)
        if doc_id != doc.id:
            doc = Document(id=doc_id, title=doc.title, text=doc.text, source=doc.source, date=doc.date)
        documents.append(doc)
    return documents


def corpus_files(folder: Path) -> dict[str, Path]:
    """The article files under `folder` by the id `load_corpus` gives each (in the order it reads them).

    Raises:
        CorpusError: the folder is missing or not a folder, or holds no articles.
    """
    folder = Path(folder)
    if not folder.exists():
        raise CorpusError(folder, "the corpus folder does not exist")
    if not folder.is_dir():
        raise CorpusError(folder, "the corpus path is not a folder")
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    return {doc_id: folder / rel for doc_id, rel in article_ids(files, folder).items()}


def article_ids(files: Iterable[str], where: str | Path) -> dict[str, str]:
    """The articles among `files` (POSIX paths relative to the corpus root `where`) by the id each gets, in
    the order they are read: sorted by path; hidden files and folders (a part starting with ``.``) skipped;
    other suffixes skipped with a warning; ids from the slugified file name, made unique in path order
    (``-2``, ``-3``, ...). One rule for every place a corpus is read from (a folder, a Ray Data URI).

    Raises:
        CorpusError: no articles.
    """
    articles: dict[str, str] = {}
    for rel in sorted(files):
        parts = rel.split("/")
        if any(part.startswith(".") for part in parts):
            continue
        suffix = Path(parts[-1]).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            logger.warning(
                "Skipping %s/%s: unsupported suffix (supported: %s)",
                where,
                rel,
                ", ".join(SUPPORTED_SUFFIXES),
            )
            continue
        # The id depends on the file name alone (`load_document` slugifies the stem), made unique in path
        # order.
        articles[_unique(slugify(Path(parts[-1]).stem), articles.keys())] = rel
    if not articles:
        raise CorpusError(where, f"no articles found (looked for {', '.join(SUPPORTED_SUFFIXES)} files)")
    return articles


def load_document(path: Path, *, max_bytes: int = 5_000_000) -> Document:
    """Read one article file.

    Args:
        path: a ``.txt`` or ``.md`` file, UTF-8.
        max_bytes: files larger than this are refused.

    Raises:
        CorpusError: a hidden name, missing, unsupported suffix, too large, binary, not UTF-8, empty, or no
            article text.
    """
    path = Path(path)
    if path.name.startswith("."):
        # The corpus loader skips hidden files, so an article ingested under such a name would vanish at
        # the next start: one rule for both, refused here with the fix.
        raise CorpusError(
            path,
            "a hidden file name (starting with '.') is never loaded from the corpus; "
            "rename the file without the leading '.'",
        )
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise CorpusError(
            path,
            f"unsupported file type {path.suffix or '(no suffix)'!r}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}",
        )
    if not path.exists():
        raise CorpusError(path, "the file does not exist")
    if not path.is_file():
        raise CorpusError(path, "not a regular file")
    check_size(path.stat().st_size, max_bytes, path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(path, f"cannot be read: {exc.strerror or exc}") from exc
    return document_from_bytes(data, name=path.name, source=path.as_posix(), where=path)


def check_size(size: int, max_bytes: int, where: str | Path) -> None:
    """Refuse an article file larger than `max_bytes` (before reading it)."""
    if size > max_bytes:
        raise CorpusError(where, f"the file is {size:,} bytes; the limit is {max_bytes:,} bytes")


def document_from_bytes(data: bytes, *, name: str, source: str, where: str | Path) -> Document:
    """An article file's bytes (its file name `name`) as a Document: decoded and parsed as `load_document`
    does, its id from the name. Errors name `where`."""
    stem = Path(name).stem
    return parse_article(
        decode_article(data, where),
        doc_id=slugify(stem),
        source=source,
        default_date=_date_from_name(stem),
        path=where,
    )


def decode_article(data: bytes, path: str | Path = "<bytes>") -> str:
    """UTF-8 bytes to text: refuses binary data and other encodings with a message that says why."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # UTF-16 (as Windows Notepad saves "Unicode") is full of NUL bytes: name it rather than call it binary.
        raise CorpusError(
            path,
            "is UTF-16 text; save the article as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8 "
            'in.txt > out.txt, or "UTF-8" in the editor\'s Save As)',
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        raise CorpusError(path, f"looks like a binary file (NUL byte at offset {nul}), not a text article")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            path,
            f"is not valid UTF-8 (invalid byte 0x{data[exc.start]:02x} at byte offset "
            f"{exc.start}); save the article as UTF-8",
        ) from exc
    sample = text[:10_000]
    controls = sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in _CONTROL_OK)
    if sample and controls / len(sample) > 0.05:
        raise CorpusError(path, "looks like a binary file (mostly control characters), not a text article")
    return text


def parse_article(
    raw: str, *, doc_id: str, source: str, default_date: str | None = None, path: str | Path | None = None
) -> Document:
    """Parse an article's text (header, title, body) into a Document.

    Args:
        raw: the whole file as text.
        doc_id: the document id (see `slugify`).
        source: where the article came from; a ``source:`` header line overrides it.
        default_date: used when the header names no date (`load_document` passes a ``YYYY-MM-DD`` file name
            prefix).
        path: named in errors (defaults to `source`).

    Raises:
        CorpusError: empty text, a header or markup with no article after it, no words at all, or a malformed
            ``date:``.
    """
    where = path if path is not None else source
    text = unicodedata.normalize("NFC", raw.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        raise CorpusError(where, "the article is empty")
    meta, body = _split_header(text)
    date = default_date
    if meta.get("date"):
        date = _parse_date(meta["date"], where)
    if meta.get("source"):
        source = meta["source"]
    title = meta.get("title") or ""
    body = strip_markup(body).strip()
    heading = _MD_HEADING_RE.match(body.split("\n", 1)[0]) if body else None
    if heading:
        # The heading's words stay in the text (they are searchable); its '#' marks do not.
        rest = body.split("\n", 1)[1] if "\n" in body else ""
        body = (heading.group(2).strip() + "\n" + rest).strip()
        title = title or heading.group(2).strip()
    if not body:
        if meta:
            raise CorpusError(where, "the file has a header but no article text")
        raise CorpusError(where, "the article holds only markup (HTML tags or Markdown marks), no text")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in body):
        # Nothing to search or quote: the lexical index would get no word from it and no span could answer.
        raise CorpusError(where, "the article has no words (only punctuation or symbols)")
    if not title:
        title = derive_title(body)
    return Document(id=doc_id, title=title, text=body, source=source, date=date)


_SCRIPT_RE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|<!--.*?-->", re.DOTALL)
_MD_IMAGE_RE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)")
_MD_EMPHASIS_RE = re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1")


def strip_markup(text: str) -> str:
    """Article text without HTML tags (script and style with their content), HTML entities, and Markdown
    links, images and emphasis marks: answers and passages hold words only. Runs at load, so every offset
    (chunks, answer spans, the sources panel) refers to the text without markup. A lone "<" or "*" in prose
    ("a < b", "5 * 3") is kept."""
    text = _SCRIPT_RE.sub(" ", text)
    text = _TAG_RE.sub("", text)
    text = _MD_IMAGE_RE.sub(r"\1", text)
    text = _MD_LINK_RE.sub(r"\1", text)
    text = _MD_EMPHASIS_RE.sub(r"\2", text)
    return html.unescape(text)


def derive_title(body: str) -> str:
    """The first headline-like line of the body, else the first sentence cut to ~80 characters.

    A headline is a short line (at most `MAX_TITLE_LINE_CHARS`) with no sentence end inside it, followed by a
    line break; bylines and datelines (no Devanagari, no lower-case Latin) are skipped.
    """
    lines = [ln.strip() for ln in body.split("\n")]
    content = [ln for ln in lines if ln and not _BYLINE_RE.match(ln)]
    if not content:
        content = [ln for ln in lines if ln]
    first = content[0]
    multi_line = len([ln for ln in lines if ln]) > 1
    if multi_line and len(first) <= MAX_TITLE_LINE_CHARS and not re.search(r"[।॥]|[.?!]\s", first):
        return first.rstrip("।.")
    match = _SENTENCE_END_RE.search(first)
    sentence = first[: match.start()].strip() if match else first
    return _truncate(sentence or first, DERIVED_TITLE_CHARS)


def slugify(name: str) -> str:
    """A stable id from a file name: NFC, lower case, runs of other characters become ``-``.

    Devanagari (with its vowel signs and viramas) is kept: ``"भारत अमेरिका"`` becomes ``"भारत-अमेरिका"``.
    """
    slug = _SLUG_DROP_RE.sub("-", unicodedata.normalize("NFC", name).lower()).strip("-_")
    slug = re.sub(r"-{2,}", "-", slug.replace("_", "-"))
    return slug or "article"


def corpus_fingerprint(documents: Iterable[Document]) -> str:
    """sha256 over the documents' ids and texts; the order of `documents` does not matter."""
    digest = hashlib.sha256()
    for doc_id, text in sorted((d.id, d.text) for d in documents):
        for part in (doc_id, text):
            encoded = part.encode("utf-8")
            # Length-prefixed so that ("ab", "c") and ("a", "bc") differ.
            digest.update(len(encoded).to_bytes(8, "big"))
            digest.update(encoded)
    return digest.hexdigest()


def _split_header(text: str) -> tuple[dict[str, str], str]:
    """Split the metadata header (any of the three layouts) from the body."""
    lines = text.split("\n")
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i == len(lines):
        return {}, ""
    seed = _SEED_DATE_RE.match(lines[i])
    if seed:
        return {"date": seed.group(1)}, "\n".join(lines[i + 1 :])
    if lines[i].strip() == "---":
        meta: dict[str, str] = {}
        for j in range(i + 1, len(lines)):
            if lines[j].strip() == "---":
                return meta, "\n".join(lines[j + 1 :])
            m = _FRONT_MATTER_LINE_RE.match(lines[j])
            if m:
                meta[m.group(1).lower()] = _unquote(m.group(2))
            elif lines[j].strip():
                break
        # An unclosed or malformed front matter block is article text (a Markdown rule, say).
        return {}, text
    meta = {}
    j = i
    while j < len(lines):
        m = _META_LINE_RE.match(lines[j])
        if not m:
            break
        meta[m.group(1).lower()] = _unquote(m.group(2))
        j += 1
    # A header must be ended by a blank line (or the end), or `title: ...` was just a sentence.
    if meta and (j == len(lines) or not lines[j].strip()):
        return meta, "\n".join(lines[j:])
    return {}, text


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].strip()
    return value.strip()


def _parse_date(value: str, where: str | Path) -> str:
    candidate = value.strip()[:10]
    try:
        return _dt.date.fromisoformat(candidate).isoformat()
    except ValueError:
        raise CorpusError(where, f"the date {value!r} is not an ISO date (YYYY-MM-DD)") from None


def _date_from_name(stem: str) -> str | None:
    m = _FILENAME_DATE_RE.match(stem)
    if not m:
        return None
    try:
        return _dt.date.fromisoformat(m.group(1)).isoformat()
    except ValueError:
        return None


def _truncate(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    if cut < limit // 2:
        cut = limit
    return text[:cut].rstrip(" ,;:-") + "…"


def _unique(doc_id: str, seen: Container[str]) -> str:
    if doc_id not in seen:
        return doc_id
    n = 2
    while f"{doc_id}-{n}" in seen:
        n += 1
    return f"{doc_id}-{n}"
