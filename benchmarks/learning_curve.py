"""The trained reader's learning curve: examples seen -> XQuAD-hi F1 (gold paragraph, never abstaining).

    .venv/bin/python benchmarks/learning_curve.py --run ~/runs/reader [--every 4] [--questions hi en]

Reads every export of a training run (`<run>/exports/step-N/`) on a spread-out sample of XQuAD-hi (every Nth
question), Hindi and English questions over the Hindi paragraphs. F1 is the span's as if the reader never
abstained, so the curve does not depend on the calibration (exports before calibration carry none). XQuAD is
never used in training, so every point is out of sample.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reader_xquad import run  # noqa: E402
from qa.config import Settings  # noqa: E402

UNCALIBRATED = {"scale": 1.0, "bias": 0.0, "threshold": 0.0, "method": "uncalibrated"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--every", type=int, default=4)
    ap.add_argument("--questions", nargs="+", default=["hi", "en"])
    ap.add_argument("--steps", type=int, nargs="*", help="only these steps")
    args = ap.parse_args(argv)
    settings = Settings.from_env()
    exports = sorted((args.run / "exports").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    rows = []
    done_path = args.run / "learning_curve.json"
    done = json.loads(done_path.read_text()) if done_path.exists() else {}
    for export in exports:
        step = int(export.name.split("-")[1])
        if args.steps and step not in args.steps:
            continue
        manifest = json.loads((export / "manifest.json").read_text(encoding="utf-8"))
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / export.name
            shutil.copytree(export, folder)
            manifest["calibration"] = UNCALIBRATED  # threshold 0: never abstain
            (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
            row = {"step": step, "examples_seen": manifest["examples_seen"]}
            for lang in args.questions:
                key = f"{step}-{lang}-{args.every}"
                if key not in done:
                    report = run(
                        "all", None, settings.model, settings.cache_dir, f"trained:{folder}", lang, args.every
                    )
                    done[key] = {
                        "f1": report["never_abstaining"]["f1"],
                        "em": report["never_abstaining"]["exact_match"],
                        "n": report["questions"],
                    }
                    done_path.write_text(json.dumps(done, indent=1), encoding="utf-8")
                row[lang] = done[key]
        rows.append(row)
        print(
            f"step {step:>5}  examples {row['examples_seen']:>6}  "
            + "  ".join(
                f"{lang} F1 {row[lang]['f1']:.1f} EM {row[lang]['em']:.1f} (n={row[lang]['n']})"
                for lang in args.questions
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
