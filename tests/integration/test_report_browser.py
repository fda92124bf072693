"""The rendered report in a real headless Chromium: images decode, no console errors, no network.

Chromium is driven through the Chrome DevTools Protocol over a pipe
(``--remote-debugging-pipe``: JSON messages separated by NUL bytes on file
descriptors 3 and 4, as Playwright and Puppeteer do), so the test needs no
Python package and no chromedriver. Install the browser with ``.ci/browser.sh``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from langneurons.report import SECTIONS, collect, render

from ..conftest import REPO
from ..report_fixtures import build_results

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]


class CDPError(RuntimeError):
    pass


class Browser:
    """Minimal CDP client over ``--remote-debugging-pipe`` (one page, flat sessions)."""

    def __init__(self, executable: str, timeout: float = 60.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="report-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # the child's ends, above 4 so that moving them onto 3 and 4 cannot clobber one another
        child_in = fcntl.fcntl(to_child_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_child_w, fcntl.F_DUPFD_CLOEXEC, 10)

        def fds():  # in the child: commands on fd 3, replies on fd 4 (dup2 makes them inheritable)
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self.stderr = tempfile.TemporaryFile()
        # close_fds=False: it would close 3 and 4 after preexec_fn; every other descriptor is close-on-exec
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
            preexec_fn=fds,
            close_fds=False,
        )
        for fd in (to_child_r, from_child_w, child_in, child_out):
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        self.session: str | None = None

    # -- protocol
    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read_message(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("timed out waiting for Chromium")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise CDPError("Chromium closed the DevTools pipe:\n" + self.log_tail())
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, page: bool = True) -> dict:
        wanted = self._send(method, params, self.session if page else None)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._read_message(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise CDPError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_event(self, method: str, timeout: float | None = None) -> dict:
        deadline = time.monotonic() + (timeout or self.timeout)
        for event in self.events:
            if event["method"] == method:
                return event
        while True:
            message = self._read_message(deadline)
            if "method" in message:
                self.events.append(message)
                if message["method"] == method:
                    return message

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise CDPError(f"evaluation failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    # -- page
    def open_page(self, width: int = 1280, height: int = 900) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"}, page=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, page=False)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def navigate(self, url: str) -> None:
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CDPError(f"navigation failed: {result['errorText']}")
        self.wait_event("Page.loadEventFired")

    def screenshot(self, path: Path) -> tuple[int, int]:
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        width, height = int(size["width"]), int(min(size["height"], 16000))
        shot = self.call(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return width, height

    def print_pdf(self) -> bytes:
        return base64.b64decode(self.call("Page.printToPDF", {"printBackground": True})["data"])

    def console_errors(self) -> list[str]:
        errors = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif e["method"] == "Runtime.exceptionThrown":
                errors.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:500])
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return errors

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def log_tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")[-2000:]

    def close(self) -> None:
        try:
            self._send("Browser.close")
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"Chromium not installed at {CHROMIUM} (run `bash .ci/browser.sh` as root to install it)")
    b = Browser(CHROMIUM)
    try:
        b.open_page()
    except Exception:
        b.close()
        raise
    yield b
    b.close()


@pytest.fixture(scope="module")
def report_page(browser, tmp_path_factory):
    """The report of two fixture models (one with every stage, one partial), loaded from a file URL."""
    root = tmp_path_factory.mktemp("browser-report")
    results, config = build_results(root / "results", models=("model-a", "model-b"), complete=("model-a",))
    out = render(collect(results, config), REPO / "report", results / "report" / "index.html")
    browser.navigate(out.resolve().as_uri())
    # every <img> finished decoding (data URIs load synchronously, but be explicit)
    browser.evaluate("Promise.all([...document.images].map(i => i.decode().catch(() => null)))")
    return browser, out


IMAGES = """[...document.images].map(i => ({alt: i.alt, complete: i.complete, w: i.naturalWidth,
    h: i.naturalHeight, data: i.src.startsWith('data:image/png;base64,')}))"""
TABLES = """[...document.querySelectorAll('table')].map(t => ({
    caption: (t.closest('figure')?.querySelector('figcaption')?.textContent || '').trim(),
    head: t.tHead ? t.tHead.rows.length : 0, rows: t.tBodies.length ? t.tBodies[0].rows.length : 0,
    cells: [...t.querySelectorAll('tbody td, tbody th')].filter(c => c.textContent.trim()).length}))"""


def test_every_image_decodes(report_page):
    browser, _ = report_page
    images = browser.evaluate(IMAGES)
    assert len(images) >= 8
    bad = [i for i in images if not (i["complete"] and i["w"] > 0 and i["h"] > 0 and i["data"])]
    assert not bad, bad


def test_no_console_errors_and_no_network(report_page):
    browser, out = report_page
    assert browser.console_errors() == []
    remote = [u for u in browser.requested_urls() if not u.startswith(("file:", "data:", "about:"))]
    assert remote == [], remote


def test_section_headings_in_order(report_page):
    browser, _ = report_page
    headings = browser.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent.trim())")
    assert headings == [title for _, title in SECTIONS]
    visible = browser.evaluate("[...document.querySelectorAll('h2')].every(h => h.getBoundingClientRect().height > 0)")
    assert visible


def test_every_table_has_content(report_page):
    browser, _ = report_page
    tables = browser.evaluate(TABLES)
    assert len(tables) >= 10
    empty = [t for t in tables if not (t["head"] and t["rows"] and t["cells"])]
    assert not empty, empty
    assert all(t["caption"].startswith("Table ") for t in tables)


def test_missing_stages_are_stated_on_the_page(report_page):
    browser, _ = report_page
    text = browser.evaluate("document.body.innerText")
    assert "model-b" in text and "Not run yet" in text  # model-b has neurons only
    steering = browser.evaluate("document.getElementById('steering').innerText")
    assert "model-a" in steering and "model-b" in steering and "not run" in steering.lower()


def test_layout_fits_the_window(report_page):
    browser, _ = report_page
    overflow = browser.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"page is {overflow}px wider than the 1280px window"


def test_printable_and_screenshot(report_page):
    browser, _ = report_page
    width, height = browser.screenshot(ARTIFACTS / "report.png")  # before printing opens the collapsed blocks
    assert width >= 1000 and height > 2000
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    pdf = browser.print_pdf()
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    assert browser.evaluate("[...document.querySelectorAll('details')].every(d => d.open)")
