"""Regenerate docs/screenshot.png: the chat answering the Hawaii co-chair question at desktop width.

    .venv/bin/python benchmarks/screenshot.py [--out docs/screenshot.png] [--width 1280] [--height 900]

Serves app.py around the Assistant of the usual settings (corpus/, index/, $SAMACHAR_*; the index is built
when missing) on a free local port and drives Debian's Chromium (/usr/bin/chromium) with Playwright.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import app  # noqa: E402
from qa.config import Settings  # noqa: E402

QUESTION = "हवाई में हुई बैठक की सह-अध्यक्षता किसने की?"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The README image stays small; a quantised palette keeps UI text sharp at a fraction of the size.
MAX_BYTES = 300_000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=900)
    p.add_argument("--question", default=QUESTION)
    p.add_argument("--chromium", default="/usr/bin/chromium")
    args = p.parse_args(argv)

    from playwright.sync_api import expect, sync_playwright

    from qa.pipeline import Assistant

    assistant = Assistant.from_settings(Settings.from_env(), progress=True)
    demo = app.build_app(assistant)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = app.launch(demo, host="127.0.0.1", port=port, block=False, quiet=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.goto(url)
            page.locator("#sq-input textarea").fill(args.question)
            page.locator("#sq-input textarea").press("Enter")
            expect(page.locator(".sq-source mark").first).to_be_visible(timeout=60_000)
            page.locator("#sq-input textarea").blur()
            page.wait_for_timeout(500)  # let the chat finish scrolling
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out))
            browser.close()
    finally:
        demo.close()
    if args.out.stat().st_size > MAX_BYTES:
        from PIL import Image

        Image.open(args.out).convert("RGB").quantize(colors=128).save(args.out, optimize=True)
    print(f"Wrote {args.out} ({args.out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
