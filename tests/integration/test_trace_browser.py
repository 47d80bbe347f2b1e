"""Open the trace report in headless Chromium: no console errors, no network, filters work.

Chromium is driven over the DevTools protocol (a websocket), so nothing but the browser and the
`websockets` package is needed. Set TRACE_SCREENSHOT=path.png to keep the screenshot elsewhere
(docs/img/trace-report.png is made that way).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from dualchecker.trace.html import write_report
from tests.unit.test_trace_report import teacher_run
from tests.unit.test_trace_student import add_student_events

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-port=0",
    "--hide-scrollbars",
    "--window-size=1400,1000",
]
CONSOLE_ERRORS = {"error", "assert"}


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    pytest.fail(
        "headless Chromium is needed for this test and was not found on PATH: "
        "install it with `apt-get install -y chromium`"
    )


class DevTools:
    """A minimal DevTools protocol client for one page session; keeps every event it sees."""

    def __init__(self, ws, session: str | None = None):
        self.ws, self.session, self.events, self._id = ws, session, [], 0

    async def call(self, method: str, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        await self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(await self.ws.recv())
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    async def wait_for(self, method: str) -> dict:
        while True:
            for event in self.events:
                if event["method"] == method:
                    return event
            reply = json.loads(await self.ws.recv())
            if "method" in reply:
                self.events.append(reply)

    async def evaluate(self, expression: str):
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")


def devtools_url(profile: Path, browser: subprocess.Popen, timeout: float = 20.0) -> str:
    """The browser's websocket, from the DevToolsActivePort file Chromium writes at start."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_file.exists() and len(lines := port_file.read_text().split()) >= 2:
            return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        if browser.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"Chromium did not open its DevTools port (exit code {browser.poll()})")


async def visit(url: str, ws_url: str, screenshot: Path) -> tuple[list[dict], dict]:
    """Load `url`, exercise the filters, save a screenshot; returns (events, what the page showed)."""
    async with connect(ws_url, max_size=None) as ws:
        browser = DevTools(ws)
        target = await browser.call("Target.createTarget", url="about:blank")
        attached = await browser.call(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        page = DevTools(ws, attached["sessionId"])
        for domain in ("Runtime", "Log", "Network", "Page"):
            await page.call(f"{domain}.enable")
        await page.call("Page.navigate", url=url)
        await page.wait_for("Page.loadEventFired")
        seen = await page.evaluate("""(() => {
            const shown = () => Number(document.getElementById('shown').textContent);
            const form = document.getElementById('filters');
            const all = shown();
            form.elements.reprompted.click();
            const reprompted = shown();
            form.elements.reprompted.click();
            form.elements.disagree.click();
            const disagree = shown();
            form.elements.disagree.click();
            form.elements.label.value = 'yes';
            form.elements.label.dispatchEvent(new Event('change', {bubbles: true}));
            const yes = shown();
            form.elements.label.value = '';
            form.elements.label.dispatchEvent(new Event('change', {bubbles: true}));
            const record = document.getElementById('record-g3');
            record.open = true;
            record.querySelector('details').open = true;  // its demonstrations
            return {all, reprompted, disagree, yes,
                    graph: document.querySelector('svg.graph').textContent.includes('low confidence'),
                    histograms: document.querySelectorAll('svg.histogram').length};
        })()""")
        await page.call(
            "Emulation.setDeviceMetricsOverride",
            width=1400,
            height=1000,
            deviceScaleFactor=1,
            mobile=False,
        )
        height = await page.evaluate("document.documentElement.scrollHeight")
        shot = await page.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": 1400, "height": min(height, 2600), "scale": 1},
        )
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        await browser.call("Target.closeTarget", targetId=target["targetId"])
        return page.events, seen


def problems(events: list[dict]) -> tuple[list[str], list[str]]:
    """(console errors and uncaught exceptions, requests to anything but file://)."""
    errors, requests = [], []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in CONSOLE_ERRORS:
            errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params.get("args", []))
            )
        elif method == "Runtime.exceptionThrown":
            errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith("file://"):
                requests.append(url)
    return errors, requests


def test_report_opens_offline_without_errors(tmp_path):
    binary = chromium()
    run_dir = teacher_run(tmp_path)
    add_student_events(run_dir)
    report = write_report(run_dir)
    screenshot = Path(os.environ.get("TRACE_SCREENSHOT", tmp_path / "trace-report.png"))
    profile = tmp_path / "profile"
    browser = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "chromium.log").open("wb"),
    )
    try:
        ws_url = devtools_url(profile, browser)
        events, seen = asyncio.run(
            asyncio.wait_for(visit(report.resolve().as_uri(), ws_url, screenshot), 30)
        )
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
    errors, requests = problems(events)
    assert errors == []
    assert requests == []
    assert any(
        e["method"] == "Network.requestWillBeSent" for e in events
    )  # the page itself, file://
    assert seen == {
        "all": 6,
        "reprompted": 1,
        "disagree": 1,
        "yes": 3,
        "graph": True,
        "histograms": 2,
    }
    assert screenshot.read_bytes().startswith(b"\x89PNG") and screenshot.stat().st_size > 20_000
