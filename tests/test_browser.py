"""The chat in a real headless Chromium (Debian's /usr/bin/chromium; Playwright's own browser download is not
reachable), at desktop width and on a 390px-wide phone screen: ask, read the answer and the highlighted
source, click a citation to its card, see that an older answer keeps its own sources, upload an article, ask
about it, delete it, and reload the page or start a new chat. Screenshots go to each test's tmp dir."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (`make browser` installs Debian's chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # app.py is a script at the repository root, not part of the package
    sys.path.insert(0, str(REPO))

from conftest import free_port  # noqa: E402

import app  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.pipeline import Assistant  # noqa: E402

# Gradio's queue statistics use pandas calls that pandas 3 deprecates; not ours to fix.
GRADIO_PANDAS_WARNINGS = [
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
pytestmark = [pytest.mark.browser, pytest.mark.slow, *GRADIO_PANDAS_WARNINGS]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ANSWER_TIMEOUT_MS = 60_000
# UI state (a restored chat, an opened card) can take seconds on a loaded 2-core CI machine: wait up to 20 s
# before calling it missing (the default is 5 s).
expect.set_options(timeout=20_000)
HAWAII_HI = "हवाई में हुई बैठक की सह-अध्यक्षता किसने की?"

# A made-up article: no seed article mentions this exercise, its commander or its place.
NEW_ARTICLE = """title: भारत-श्रीलंका नौसेना अभ्यास नीलकंठ सेतु संपन्न
date: 2026-03-02

भारतीय नौसेना और श्रीलंका नौसेना का संयुक्त अभ्यास नीलकंठ सेतु एक मार्च को त्रिंकोमाली के पास संपन्न हुआ।
इस अभ्यास की कमान कमोडोर अरविंद रघुनाथन ने संभाली।
अभ्यास में समुद्री डकैती रोधी अभियानों का अभ्यास किया गया।
"""
NEW_QUESTION = "नीलकंठ सेतु अभ्यास की कमान किसने संभाली?"
SECRETARY_HI = "अमेरिकी सेना सचिव कौन हैं?"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, default_encoder: Any) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser-app")
    shutil.copytree(REPO / "corpus", root / "corpus")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index", cache_dir=root / "cache")
    assistant = Assistant.from_settings(settings, progress=False, encoder=default_encoder)
    with pytest.MonkeyPatch.context() as mp:
        # Gradio keeps uploads in GRADIO_TEMP_DIR (default: /tmp/gradio); keep them in the test's tmp dir.
        mp.setenv("GRADIO_TEMP_DIR", str(root / "gradio"))
        demo = app.build_app(assistant)
        url = app.launch(demo, host="127.0.0.1", port=free_port(), block=False, quiet=True)
        yield url
        demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_chat(browser: Browser, url: str, width: int, height: int, **context: Any) -> Page:
    page = browser.new_context(viewport={"width": width, "height": height}, **context).new_page()
    page.goto(url)
    wait_until_ready(page)
    return page


def wait_until_ready(page: Page) -> None:
    expect(page.locator("#sq-input textarea")).to_be_visible(timeout=30_000)
    expect(page.locator("#sq-corpus")).to_contain_text(
        "Articles", timeout=30_000
    )  # the page's load events ran


#: The page's local storage, where gr.BrowserState keeps the (encrypted) conversation.
# The chat's own key only: Gradio also keeps a run history in localStorage, written as each answer arrives —
# before the chat is saved — so a change of the whole storage is not the chat's save.
SAVED_JS = "JSON.stringify(Object.entries(localStorage).filter(([k]) => k.includes('samachar-chat')).sort())"


def saved_chat(page: Page) -> str:
    return str(page.evaluate(f"() => {SAVED_JS}"))


def bots(page: Page) -> Any:
    return page.locator("#sq-chat [data-testid='bot']")


def ask(page: Page, question: str, expected: str) -> Any:
    """Type `question`, submit it, and wait until the last bot message contains `expected`."""
    page.locator("#sq-input textarea").fill(question)
    page.locator("#sq-input textarea").press("Enter")
    answer = page.locator("#sq-chat [data-testid='bot']").last
    expect(answer).to_contain_text(expected, timeout=ANSWER_TIMEOUT_MS)
    return answer


def test_ask_upload_ask_again_and_delete(server: str, browser: Browser, tmp_path: Path) -> None:
    page = open_chat(browser, server, DESKTOP["width"], DESKTOP["height"])
    count = int(page.locator("#sq-corpus .sq-count").inner_text().strip("()"))
    answer = ask(page, HAWAII_HI, "दीक्षित")
    expect(answer.locator("strong")).to_contain_text("दीक्षित")  # the answer is in bold
    expect(answer.locator("a.sq-cite").first).to_have_text("[1]")
    marked = answer.locator(".sq-source mark").first
    expect(marked).to_be_visible()
    assert "दीक्षित" in marked.inner_text() or "रुड" in marked.inner_text()
    page.screenshot(path=str(tmp_path / "answer.png"))

    article = tmp_path / "2026-03-02-neelkanth-setu.txt"
    article.write_text(NEW_ARTICLE, encoding="utf-8")
    page.locator("#sq-upload input[type='file']").set_input_files(str(article))  # visible: no accordion
    expect(page.locator("#sq-upload-status")).to_contain_text("passages added", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#sq-corpus .sq-count")).to_have_text(f"({count + 1})")
    expect(page.locator("#sq-corpus")).to_contain_text("नीलकंठ सेतु")
    answer = ask(page, NEW_QUESTION, "अरविंद रघुनाथन")
    expect(answer.locator(".sq-source").first).to_contain_text("नीलकंठ सेतु")
    page.screenshot(path=str(tmp_path / "uploaded.png"))

    # Delete it: pick, confirm, and the same question is no longer answered from it.
    page.locator("#sq-delete-choice input").click()
    page.get_by_role("option", name="भारत-श्रीलंका नौसेना अभ्यास नीलकंठ सेतु संपन्न (2026-03-02)").click()
    page.locator("#sq-delete").click()
    expect(page.locator("#sq-delete-question")).to_contain_text("नीलकंठ सेतु")
    page.locator("#sq-delete-yes").click()
    expect(page.locator("#sq-delete-status")).to_contain_text("Deleted", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#sq-corpus .sq-count")).to_have_text(f"({count})")
    expect(page.locator("#sq-corpus")).not_to_contain_text("नीलकंठ सेतु")
    page.locator("#sq-input textarea").fill(NEW_QUESTION)
    page.locator("#sq-input textarea").press("Enter")
    expect(bots(page)).to_have_count(3, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#sq-chat .sq-wait")).to_have_count(0, timeout=ANSWER_TIMEOUT_MS)
    # Neither the answer nor any source card (collapsed ones included) comes from the deleted article.
    expect(bots(page).last).not_to_contain_text("अरविंद रघुनाथन")
    expect(bots(page).last).not_to_contain_text("नीलकंठ सेतु")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_citations_scroll_to_the_answers_own_sources(
    server: str, browser: Browser, tmp_path: Path, viewport: dict[str, Any]
) -> None:
    page = open_chat(browser, server, **viewport)
    ask(page, HAWAII_HI, "दीक्षित")
    ask(page, SECRETARY_HI, "ड्रिस्कॉल")
    first, second = bots(page).nth(0), bots(page).nth(1)  # (`ask` returns the last one, whichever it is)
    # The older answer keeps its own sources (collapsed now): its [1] opens them and shows its card.
    first_card = first.locator(".sq-source").first
    expect(first_card).to_be_hidden()
    first.locator("a.sq-cite").first.click()
    expect(first_card).to_be_in_viewport()
    expect(first_card.locator("mark")).to_be_visible()
    assert "दीक्षित" in first_card.inner_text() or "रुड" in first_card.inner_text()
    assert "ड्रिस्कॉल" not in first_card.locator("mark").inner_text()
    page.screenshot(path=str(tmp_path / "first-sources.png"))
    # And the newer answer's [1] goes to the newer answer's card, not the older one's.
    second.locator("a.sq-cite").first.click()
    second_card = second.locator(".sq-source").first
    expect(second_card).to_be_in_viewport()
    assert second_card.get_attribute("id") != first_card.get_attribute("id")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_reload_keeps_the_chat_and_new_chat_clears_it(
    server: str, browser: Browser, viewport: dict[str, Any]
) -> None:
    page = open_chat(browser, server, **viewport)
    stored = saved_chat(page)
    ask(page, HAWAII_HI, "दीक्षित")
    # The chat is written to the browser's storage by the event after the answer: wait for that, not a time.
    page.wait_for_function(f"() => {SAVED_JS} !== {json.dumps(stored)}")
    page.reload()
    wait_until_ready(page)
    expect(bots(page)).to_have_count(1)
    expect(bots(page).first).to_contain_text("दीक्षित")
    expect(bots(page).first.locator(".sq-source mark")).to_be_visible()
    # The restored chat is the conversation: a follow-up is read against it.
    answer = ask(page, "और अमेरिका की ओर से?", "रुड")
    expect(answer.locator(".sq-readas")).to_contain_text("अमेरिका की ओर से")

    stored = saved_chat(page)
    page.locator("#sq-new-chat").click()
    expect(bots(page)).to_have_count(0)
    page.wait_for_function(f"() => {SAVED_JS} !== {json.dumps(stored)}")
    page.reload()
    wait_until_ready(page)
    expect(bots(page)).to_have_count(0)


def test_phone_width_layout(server: str, browser: Browser, tmp_path: Path) -> None:
    width = 390
    page = open_chat(browser, server, width, 844, is_mobile=True, has_touch=True, device_scale_factor=2)
    answer = ask(page, HAWAII_HI, "दीक्षित")
    box = page.locator("#sq-input textarea")
    for element in (box, answer):
        element.scroll_into_view_if_needed()
        expect(element).to_be_in_viewport()
        bounds = element.bounding_box()
        assert bounds is not None and bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= width
    # Nothing forces sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
