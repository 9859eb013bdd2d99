"""Building an index: chunk the articles, split their sentences, embed what is new, build FAISS and BM25.

Every chunk is embedded whole and sentence by sentence (each sentence with the one before it, for context): a
question usually asks about one sentence, and its cosine with that sentence is sharper than with the whole
passage, above all for English questions against Hindi text (see `qa.retriever.FusionWeights`). Vectors of
texts an earlier index already embedded with the same model are reused, so an ingest embeds only what changed.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from embeddings.encoder import Encoder
from embeddings.index import IndexKind, VectorIndex
from qa.chunking import chunk_document, split_sentences
from qa.errors import IndexMismatchError
from qa.index_store import IndexData, IndexParams, Sentence, stored_vectors
from qa.lexical import LexicalIndex
from qa.records import chunk_doc_ids
from qa.types import Chunk, Document

EMBED_BATCH = 64
#: Called after each batch of texts is embedded: (texts embedded so far, texts to embed, id of the first
#: article, in id order, not yet wholly embedded: it only moves forward, so a caller can show per-file progress).
EmbedProgress = Callable[[int, int, str], None]
#: Embeds passage texts elsewhere (e.g. `qa.ray_engine.ray_embedder`): all the texts a build must embed, in one
#: call; returns one L2-normalised float32 row per text, in order. Without one, the build embeds in-process.
Embedder = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class IngestReport:
    added_documents: tuple[str, ...]
    replaced_documents: tuple[str, ...]
    unchanged_documents: tuple[str, ...]
    chunks_added: int
    #: Texts embedded by the ingest: new or changed chunks and their new sentences (the rest were reused).
    texts_embedded: int
    total_chunks: int
    #: Files saved under another name because an article with their id existed: (file name, new file name).
    renamed: tuple[tuple[str, str], ...] = ()
    removed_documents: tuple[str, ...] = ()


def document_sentences(doc: Document) -> list[Sentence]:
    """The sentences of `doc`, each with the start of the sentence before it as its context."""
    spans = split_sentences(doc.text)
    return [Sentence(doc.id, s, e, spans[n - 1][0] if n else s) for n, (s, e) in enumerate(spans)]


def index_rows(
    docs: Sequence[Document],
    count_tokens: Callable[[str], int],
    params: IndexParams,
    *,
    progress: bool = False,
    reuse: IndexData | None = None,
) -> tuple[list[Chunk], list[list[int]], list[Sentence]]:
    """The rows of an index of `docs` (in that order): its chunks, the sentence rows of each chunk, and the
    sentence rows. A sentence in the overlap of two chunks is one row shared by both; a chunk's sentences
    are the article's sentences inside it (a chunk cut from one over-long sentence holds none and is scored
    by its own vector alone).

    `reuse`: an index chunked with the same `params` and tokenizer (the one an ingest replaces). An article
    it holds with the same text keeps its chunks and sentences instead of being chunked again: the same rows
    (chunking is a function of the text, the token counter and `params`), without the token counts, which
    are most of the time (about 2 ms a passage with the e5 tokenizer: over half an hour at a million).
    """
    old = _chunk_runs(reuse.chunks) if reuse is not None else {}
    rows: dict[Sentence, int] = {}
    chunks: list[Chunk] = []
    members: list[list[int]] = []
    for doc in _progress(docs, progress, "Chunking"):
        run = old.get(doc.id)
        if reuse is not None and run is not None and reuse.documents[doc.id].text == doc.text:
            for i in range(*run):
                chunks.append(reuse.chunks[i])
                members.append([rows.setdefault(reuse.sentences[j], len(rows)) for j in reuse.members[i]])
            continue
        sentences = document_sentences(doc)
        for chunk in chunk_document(
            doc,
            count_tokens,
            max_tokens=params.chunk_tokens,
            overlap_sentences=params.chunk_overlap_sentences,
        ):
            chunks.append(chunk)
            members.append(
                [
                    rows.setdefault(sent, len(rows))
                    for sent in sentences
                    if chunk.start <= sent.start and sent.end <= chunk.end
                ]
            )
    return chunks, members, list(rows)


def _chunk_runs(chunks: Sequence[Chunk]) -> dict[str, tuple[int, int]]:
    """Each article's chunk rows as [first, last + 1), for the articles whose chunks are consecutive (all,
    in an index this module built: it chunks article by article)."""
    runs: dict[str, tuple[int, int]] = {}
    broken: set[str] = set()
    for i, doc_id in enumerate(chunk_doc_ids(chunks)):
        first, end = runs.get(doc_id, (i, i))
        if end != i:
            broken.add(doc_id)
        runs[doc_id] = (first, i + 1)
    return {doc_id: run for doc_id, run in runs.items() if doc_id not in broken}


def _text_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()[:32]


def build_index(
    documents: Sequence[Document],
    encoder: Encoder,
    params: IndexParams,
    *,
    progress: bool = False,
    previous: tuple[IndexData, IndexParams] | None = None,
    on_progress: EmbedProgress | None = None,
    embed: Embedder | None = None,
) -> tuple[IndexData, int]:
    """Chunk and embed `documents`, each chunk whole and sentence by sentence. Vectors of texts that
    `previous` already embedded with the same model are reused, so an incremental ingest embeds only new or
    changed chunks and sentences (`previous` is an index and the parameters it was built with; with the same
    chunking, its unchanged articles are not chunked again either: `index_rows`). `progress` shows
    bars on the terminal; `on_progress` is called after each embedded batch (see EmbedProgress); `embed`
    embeds elsewhere instead (see Embedder). Returns the index and how many texts were embedded."""
    if params.model != encoder.model_id:
        raise IndexMismatchError(f"encoder {encoder.model_id!r} does not match params model {params.model!r}")
    docs = sorted(documents, key=lambda d: d.id)
    # Vectors and IVF centroids are reused from an index of the same model; chunks, with the same chunking too.
    same_model = previous is not None and previous[1].model == params.model
    same_rows = previous is not None and previous[1] == params
    chunks, members, sentences = index_rows(
        docs,
        encoder.count_tokens,
        params,
        progress=progress,
        reuse=previous[0] if previous and same_rows else None,
    )
    by_id = {d.id: d for d in docs}
    texts = [c.text for c in chunks] + [by_id[s.doc_id].text[s.context_start : s.end] for s in sentences]
    # Vectors already computed for the same text with the same model are reused (an incremental ingest
    # embeds only new or changed passages); the chunk and the sentence of a one-sentence article are embedded once.
    known: dict[str, np.ndarray] = {}
    if previous and same_model:
        old = previous[0]
        for text, v in zip(index_texts(old), np.concatenate(stored_vectors(old))):
            known[_text_key(params.model, text)] = v
    keys = [_text_key(params.model, t) for t in texts]
    row_docs = [c.doc_id for c in chunks] + [s.doc_id for s in sentences]
    todo: list[int] = []  # rows to embed: the first of each text not known yet
    pending: set[str] = set()
    for i, key in enumerate(keys):
        if key not in known and key not in pending:
            pending.add(key)
            todo.append(i)
    # Fewest tokens first: a batch pads every text to its longest, so texts of like length waste least (by
    # tokens: characters are a loose measure across scripts). On XQuAD-hi's 1,532 texts, tokens computed per
    # real token fall from 1.43 (article by article) to 1.03 and embedding takes 1.54x less time (sorted by
    # characters: 1.14 and 1.20x; benchmarks/build_speed.py). Rows go back in place below: no vector changes.
    tokens = {i: encoder.count_tokens(texts[i]) for i in todo}
    todo.sort(key=lambda i: (tokens[i], len(texts[i])))
    todo_texts = [texts[i] for i in todo]
    if embed is None:
        embedded = _embed_here(encoder, todo_texts, [row_docs[i] for i in todo], progress, on_progress)
    else:
        embedded = embed(todo_texts) if todo else np.zeros((0, encoder.dim), dtype=np.float32)
    if embedded.shape != (len(todo), encoder.dim):
        raise ValueError(
            f"the embedder returned {embedded.shape} for {len(todo)} texts of dimension {encoder.dim}"
        )
    for i, v in zip(todo, embedded):
        known[keys[i]] = v
    matrix = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    for i, key in enumerate(keys):
        matrix[i] = known[key]
    vectors, sentence_vectors = matrix[: len(chunks)], matrix[len(chunks) :]
    trained = (previous[0].dense, previous[0].sentence_index) if previous and same_model else None
    data = assemble_index(docs, chunks, members, sentences, vectors, sentence_vectors, trained=trained)
    return data, len(todo)


def assemble_index(
    docs: Sequence[Document],
    chunks: Sequence[Chunk],
    members: Sequence[Sequence[int]],
    sentences: Sequence[Sentence],
    vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    kind: IndexKind | None = None,
    *,
    trained: tuple[VectorIndex, VectorIndex] | None = None,
) -> IndexData:
    """The index of these rows (`index_rows`) and their vectors: FAISS over both (of `kind`, default chosen
    by size; an IVF index reuses the training of `trained`'s, the passage and sentence indexes an ingest
    replaces, see `VectorIndex.build`) and BM25 over the chunks."""
    dense_from, sentences_from = trained or (None, None)
    return IndexData(
        {d.id: d for d in docs},
        tuple(chunks),
        tuple(tuple(m) for m in members),
        tuple(sentences),
        vectors,
        sentence_vectors,
        VectorIndex.build(vectors, kind, trained_from=dense_from),
        VectorIndex.build(sentence_vectors, kind, trained_from=sentences_from),
        LexicalIndex.build([c.text for c in chunks]),
    )


def index_texts(data: IndexData) -> list[str]:
    """Texts of the chunk rows, then of the sentence rows (the order of vectors, sentence_vectors)."""
    by_id = data.documents
    return [c.text for c in data.chunks] + [
        by_id[s.doc_id].text[s.context_start : s.end] for s in data.sentences
    ]


def merge_documents(
    current: Sequence[Document], documents: Sequence[Document], remove: Sequence[str] = ()
) -> tuple[list[Document], list[str], list[str], list[str]]:
    """`current` with `documents` added (or replacing those of the same id) and the ids in `remove` left out:
    (the merged documents, added ids, replaced ids, unchanged ids). Raises KeyError for an id in `remove`
    that `current` does not hold."""
    known = {d.id: d for d in current}
    missing = [doc_id for doc_id in remove if doc_id not in known]
    if missing:
        raise KeyError(missing[0])
    added, replaced, unchanged = [], [], []
    merged = {doc_id: d for doc_id, d in known.items() if doc_id not in set(remove)}
    for doc in documents:
        old = merged.get(doc.id)
        if old is None:
            added.append(doc.id)
        elif old.text == doc.text and old.title == doc.title and old.date == doc.date:
            unchanged.append(doc.id)
        else:
            replaced.append(doc.id)
        merged[doc.id] = doc
    return list(merged.values()), added, replaced, unchanged


def _progress(items: Sequence[Any], enabled: bool, desc: str, unit: str = "doc") -> Any:
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit=unit)


def _embed_here(
    encoder: Encoder, texts: list[str], doc_ids: list[str], progress: bool, on_progress: EmbedProgress | None
) -> np.ndarray:
    """`texts` embedded in this process, batch by batch (`doc_ids[i]` is the article of
    `texts[i]`), with a progress bar and `on_progress` after each batch."""
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    # Counted in texts (passages and sentence windows), not batches: the bar shows texts/s and a time left.
    bar = _text_bar(len(texts), progress)
    # The texts come sorted by length, so each block of EMBED_BATCH holds texts of like length (little
    # padding). The blocks run in a fixed shuffled order: long and short mixed keep the rate steady, so the
    # time left that the bar and the app show from it holds (shortest first, it would keep growing).
    starts = list(range(0, len(texts), EMBED_BATCH))
    order = np.random.default_rng(0).permutation(len(starts))
    # Progress names the first article (by id) with texts still to embed, so the name only moves forward,
    # one article after another, as a reader of it expects.
    remaining = Counter(doc_ids)
    articles, current, done = sorted(remaining), 0, 0
    for block in order:
        start = starts[block]
        end = min(start + EMBED_BATCH, len(texts))
        out[start:end] = encoder.encode_passages(texts[start:end])
        done += end - start
        remaining.subtract(doc_ids[start:end])
        while current < len(articles) - 1 and remaining[articles[current]] == 0:
            current += 1
        if bar is not None:
            bar.update(end - start)
        if on_progress is not None:
            on_progress(done, len(texts), articles[current])
    if bar is not None:
        bar.close()
    return out


def _text_bar(total: int, enabled: bool) -> Any:
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="Embedding", unit="text", smoothing=0.1)
