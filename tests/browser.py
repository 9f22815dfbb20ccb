"""A real headless browser for the tests: Debian's chromium, driven over the DevTools protocol.

No driver package: chromium is started with --remote-debugging-port=0, and the protocol is spoken over the
websocket that aiohttp (already a dependency) provides. Only what the tests need: open a page, wait for its
images, evaluate JavaScript, collect console errors and failed loads, take a screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp

FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    # Nothing leaves the machine: every host but the local emulator fails at once, as if offline.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
_WAIT_IMAGES = """Promise.all([...document.images].map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done); img.addEventListener('error', done); })))
  .then(() => new Promise(done => requestAnimationFrame(() => done(document.images.length))))"""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Events:
    console_errors: list[str] = field(default_factory=list)  # console.error() and uncaught exceptions
    network_errors: list[str] = field(default_factory=list)  # "URL: message" for each resource that failed


class Page:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: str) -> None:
        self._ws = ws
        self._session = session
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: dict[str, asyncio.Event] = {}
        self.events = Events()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self._ws:
            data = json.loads(msg.data)
            if "id" in data:
                future = self._waiting.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
                continue
            method, params = data.get("method", ""), data.get("params", {})
            self._events.setdefault(method, asyncio.Event()).set()
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                self.events.console_errors.append(" ".join(str(a.get("value", a)) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                self.events.console_errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Log.entryAdded":
                entry = params.get("entry", {})
                if entry.get("level") == "error":
                    text = f"{entry.get('url', '')}: {entry.get('text', '')}"
                    network = entry.get("source") == "network"
                    (self.events.network_errors if network else self.events.console_errors).append(text)

    async def send(self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False) -> Any:
        msg_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = future
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if not browser:
            message["sessionId"] = self._session
        await self._ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, 60)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    async def open(self, url: str) -> None:
        """Navigate and wait for the load event and for every image to have loaded or failed."""
        loaded = self._events.setdefault("Page.loadEventFired", asyncio.Event())
        loaded.clear()
        reply = await self.send("Page.navigate", {"url": url})
        if reply.get("errorText"):
            raise RuntimeError(f"cannot open {url}: {reply['errorText']}")
        await asyncio.wait_for(loaded.wait(), 60)
        await self.evaluate(_WAIT_IMAGES)

    async def screenshot(self, *, height: int | None = None) -> bytes:
        """A PNG of the viewport, or of the page's top `height` pixels."""
        params: dict[str, Any] = {"format": "png"}
        if height is not None:
            width = await self.evaluate("document.documentElement.clientWidth")
            params["clip"] = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
            params["captureBeyondViewport"] = True
        data = await self.send("Page.captureScreenshot", params)
        return base64.b64decode(data["data"])

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def browser_page() -> AsyncIterator[Page]:
    """A fresh headless chromium (own profile, no network beyond 127.0.0.1) with one blank page."""
    binary = chromium_path()
    if binary is None:
        raise RuntimeError("chromium is not installed (make e2e installs it)")
    # ignore_cleanup_errors: chromium's helper processes may still write to the profile for a moment after the
    # browser process exits ("Directory not empty: 'Default'" once in CI); a leftover temp folder harms nothing.
    with (
        tempfile.TemporaryDirectory(prefix="backfill-chromium-", ignore_cleanup_errors=True) as profile,
        tempfile.TemporaryFile("w+") as log,
    ):
        proc = await asyncio.create_subprocess_exec(
            binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
            stdout=subprocess.DEVNULL,
            stderr=log,  # a file, not a pipe: chromium's chatter must never fill a pipe and block it
        )
        try:
            ws_url = await _devtools_url(Path(profile), proc, log)
            async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, max_msg_size=0) as ws:
                page = Page(ws, "")
                target = await page.send("Target.createTarget", {"url": "about:blank"}, browser=True)
                attached = await page.send(
                    "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, browser=True
                )
                page._session = attached["sessionId"]
                for domain in ("Page", "Runtime", "Log"):
                    await page.send(f"{domain}.enable")
                try:
                    yield page
                finally:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(page.send("Browser.close", browser=True), 5)
                    await page.close()
        finally:
            if proc.returncode is None:
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _devtools_url(profile: Path, proc: asyncio.subprocess.Process, log: IO[str]) -> str:
    """Chromium writes the port it chose, and the browser target's path, to DevToolsActivePort."""
    port_file = profile / "DevToolsActivePort"
    for _ in range(600):
        if proc.returncode is not None:
            log.seek(0)
            err = log.read()
            raise RuntimeError(f"chromium exited with {proc.returncode}: {err[-2000:]}")
        if port_file.is_file():
            lines = port_file.read_text().split()
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        await asyncio.sleep(0.05)
    raise RuntimeError("chromium did not open its DevTools port within 30 s")


def file_url(path: Path) -> str:
    return path.resolve().as_uri()


def required() -> bool:
    """`make e2e` sets BACKFILL_E2E=1: there a missing chromium is a failure, not a skip."""
    return os.environ.get("BACKFILL_E2E") == "1"
