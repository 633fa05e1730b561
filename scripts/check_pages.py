#!/usr/bin/env python3
"""Check the built book in a real browser (Debian's headless Chromium).

Usage: python scripts/check_pages.py _build/html [--toc _toc.yml] [--screenshots DIR]

For every page listed in _toc.yml the script opens <html_dir>/<file>.html,
served by a local http.server on 127.0.0.1 (random free port), in headless
Chromium driven over the Chrome DevTools Protocol (a minimal websocket client
from the standard library), and checks in the rendered page that

* every <img> has loaded (complete and naturalWidth > 0);
* every table of the built HTML is in the page, has at least one row and fits
  the article column at the viewport's width (no horizontal scroll bar);
* every image of the article is a numbered <figure> with a <figcaption> and
  alt text that is not a file name, and the page links a favicon;
* MathJax has typeset every formula: each Sphinx math element holds an
  <mjx-container>, no <mjx-merror> is left, no raw TeX delimiters
  (\\( \\) \\[ \\] $$ \\begin{) remain in visible text outside code, and no
  MathJax font failed to load;
* no request left the local server (the book must read offline; host names
  other than 127.0.0.1 do not even resolve in the browser), no local request
  failed, and no uncaught JavaScript exception was thrown.

It also checks that the root index.html redirects to the toc's root page,
and saves full-page screenshots of the root page and of one notebook page
under <html_dir>/../screenshots (for humans).

Prints one line per page and exits non-zero, naming every failure, if any
check fails.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    # Offline by construction: every host name except 127.0.0.1 fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--window-size=1280,900",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]
VIEWPORT = (1400, 900)  # the width the issue reads the book at
MAX_SCREENSHOT_HEIGHT = 12000


class CheckError(RuntimeError):
    """A failure of the checking machinery itself (not of a page)."""


# --------------------------------------------------------------------------- websocket


class WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol: masked text frames out,
    (possibly fragmented) text frames in, ping/pong and close."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, url: str, timeout: float = 30.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "ws":
            raise CheckError(f"unsupported websocket URL {url!r}")
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {parts.path or '/'} HTTP/1.1\r\n"
            f"Host: {parts.hostname}:{parts.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise CheckError("DevTools closed the connection during the websocket handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise CheckError(f"websocket handshake refused: {lines[0]}")
        expected = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
        if headers.get("sec-websocket-accept") != expected:
            raise CheckError("websocket handshake: bad Sec-WebSocket-Accept")

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise CheckError("DevTools connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask_fast(payload, mask)
        self.sock.sendall(header + mask + masked)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def recv(self, timeout: float) -> str:
        self.sock.settimeout(max(timeout, 0.01))
        message = b""
        while True:
            b0, b1 = self._read_exact(2)
            fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._read_exact(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._read_exact(8))
            mask = self._read_exact(4) if b1 & 0x80 else None
            payload = self._read_exact(n)
            if mask:
                payload = _mask_fast(payload, mask)
            if opcode == 0x8:
                raise CheckError("DevTools closed the websocket")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            message += payload
            if fin:
                return message.decode("utf-8")

    def close(self) -> None:
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


def _mask_fast(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


# --------------------------------------------------------------------------- DevTools protocol


class DevTools:
    def __init__(self, ws: WebSocket):
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []

    def _receive(self, deadline: float) -> dict:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        try:
            return json.loads(self.ws.recv(remaining))
        except socket.timeout as exc:
            raise TimeoutError from exc

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60.0) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = self._receive(deadline)
            except TimeoutError:
                raise CheckError(f"no reply to {method} within {timeout:.0f} s") from None
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise CheckError(f"{method} failed: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, session: str | None, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event["method"] == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            try:
                reply = self._receive(deadline)
            except TimeoutError:
                return None
            if "method" in reply:
                self.events.append(reply)

    def drain(self, seconds: float) -> None:
        """Collect events for a short while (late network events)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                reply = self._receive(deadline)
            except TimeoutError:
                return
            if "method" in reply:
                self.events.append(reply)


# --------------------------------------------------------------------------- local server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    errors: list[str]

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass

    def log_request(self, code="-", size="-"):
        if isinstance(code, int) and code >= 400 and not self.path.endswith("/favicon.ico"):
            self.errors.append(f"{code} {self.path}")


def start_server(root: Path):
    errors: list[str] = []
    handler = functools.partial(type("Handler", (_QuietHandler,), {"errors": errors}), directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, errors


# --------------------------------------------------------------------------- pages


def toc_files(toc_path: Path) -> tuple[str, list[str]]:
    """The root and every file of a jb-book _toc.yml, in order."""
    try:
        import yaml
    except ImportError:  # plain-text fallback: `root:` and `file:` lines
        text = toc_path.read_text(encoding="utf8")
        entries = re.findall(r"^\s*(?:-\s*)?(root|file)\s*:\s*(\S+)\s*$", text, flags=re.M)
        if not entries or entries[0][0] != "root":
            raise CheckError(f"{toc_path}: no `root:` entry")
        files = [e[1] for e in entries]
    else:
        data = yaml.safe_load(toc_path.read_text(encoding="utf8"))
        files = [data["root"]]

        def walk(node):
            if isinstance(node, dict):
                if "glob" in node or "url" in node:
                    raise CheckError(f"{toc_path}: glob/url entries are not supported: {node}")
                if "file" in node:
                    files.append(node["file"])
                for key in ("parts", "chapters", "sections"):
                    for child in node.get(key, []) or []:
                        walk(child)
            elif isinstance(node, list):
                for child in node:
                    walk(child)

        walk({k: v for k, v in data.items() if k != "root"})
    files = [re.sub(r"\.(md|ipynb|rst)$", "", f) for f in files]
    return files[0], files


CHECK_JS = r"""
(async () => {
  const TIMEOUT = %(timeout)d;
  const deadline = Date.now() + TIMEOUT;
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const out = {errors: [], images: {total: 0, ok: 0, broken: []}, tables: [], math: {}};

  // Images: make lazy ones eager, then wait until each has loaded or failed.
  const imgs = Array.from(document.images);
  imgs.forEach(img => { if (img.loading === 'lazy') img.loading = 'eager'; });
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(r => {
    img.addEventListener('load', r, {once: true});
    img.addEventListener('error', r, {once: true});
    setTimeout(r, Math.max(0, deadline - Date.now()));
  })));
  out.images.total = imgs.length;
  for (const img of imgs) {
    if (img.complete && img.naturalWidth > 0) out.images.ok += 1;
    else out.images.broken.push(img.getAttribute('src'));
  }

  // MathJax: wait for the library, its first typesetting pass and its fonts.
  const mathEls = Array.from(document.querySelectorAll('span.math, div.math'));
  const script = document.querySelector('script[src*="tex-mml-chtml"]');
  out.math.elements = mathEls.length;
  out.math.script = script ? script.getAttribute('src') : null;
  out.math.state = 'no script';
  if (script) {
    // Deferred scripts have run by the load event: MathJax defines itself at once or never.
    const loadDeadline = Math.min(deadline, Date.now() + 5000);
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise) && Date.now() < loadDeadline) await sleep(50);
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      await Promise.race([MathJax.startup.promise, sleep(Math.max(0, deadline - Date.now()))]);
      out.math.state = 'typeset';
      out.math.version = MathJax.version || null;
    } else {
      out.math.state = 'MathJax did not load';
    }
  }
  await Promise.race([document.fonts.ready, sleep(Math.max(0, deadline - Date.now()))]);
  const mjxFonts = Array.from(document.fonts).filter(f => /^MJX/.test(f.family.replace(/["']/g, '')));
  out.math.fonts_loaded = mjxFonts.filter(f => f.status === 'loaded').length;
  out.math.fonts_failed = mjxFonts.filter(f => f.status === 'error').map(f => f.family);
  out.math.containers = document.querySelectorAll('mjx-container').length;
  out.math.untypeset = mathEls.filter(el => !el.querySelector('mjx-container'))
                              .map(el => el.textContent.trim().slice(0, 80));
  out.math.merrors = Array.from(document.querySelectorAll('mjx-merror'))
                          .map(el => (el.getAttribute('data-mjx-error') || el.textContent).slice(0, 120));

  // Raw TeX left in visible text (code and MathJax's own output excluded).
  const skip = 'script, style, pre, code, textarea, noscript, mjx-container, .highlight, .MathJax_Preview';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const raw = [];
  const pattern = /\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{/;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    if (pattern.test(node.textContent)) raw.push(node.textContent.trim().slice(0, 80));
  }
  out.math.raw_tex = raw;

  // Tables, and how far each reaches past the article column (a horizontal scroll bar hides that part).
  const article = document.querySelector('article, main') || document.body;
  const right = article.getBoundingClientRect().right;
  for (const table of document.querySelectorAll('table')) {
    const rect = table.getBoundingClientRect();
    out.tables.push({rows: table.rows.length, width: rect.width, height: rect.height,
                     overflow: Math.max(0, table.scrollWidth - table.clientWidth, rect.right - right),
                     id: table.id || (table.closest('[id]') || {}).id || null});
  }

  // Figures: every image of the article is a numbered <figure> with a caption and real alt text.
  out.figures = [];
  for (const img of article.querySelectorAll('img')) {
    const figure = img.closest('figure');
    const alt = (img.getAttribute('alt') || '').trim();
    out.figures.push({src: img.getAttribute('src'), alt: alt,
                      caption: !!(figure && figure.querySelector('figcaption')),
                      numbered: !!(figure && figure.querySelector('.caption-number')),
                      alt_is_name: alt === '' || /\.(png|jpe?g|svg|gif)$/i.test(alt)});
  }
  out.favicon = !!document.querySelector('link[rel~="icon"]');
  out.title = document.title;
  return out;
})()
"""


class Browser:
    def __init__(self, chromium: str, port_timeout: float = 60.0):
        self.tmp = Path(tempfile.mkdtemp(prefix="check_pages_"))
        self.profile = self.tmp / "profile"
        self.log_path = self.tmp / "chromium.log"
        self.log = open(self.log_path, "wb")
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + port_timeout
        while True:
            if port_file.exists():
                lines = port_file.read_text().split()
                if len(lines) >= 2:
                    break
            if self.proc.poll() is not None:
                raise CheckError(f"chromium exited with code {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise CheckError(f"chromium did not open its DevTools port within {port_timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)
        self.ws = WebSocket(f"ws://127.0.0.1:{lines[0]}{lines[1]}")
        self.cdp = DevTools(self.ws)
        self.version = self.cdp.call("Browser.getVersion").get("product", "?")
        target = self.cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.call(f"{domain}.enable")
        self.call("Network.setCacheDisabled", {"cacheDisabled": True})
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False})

    def call(self, method, params=None, timeout=60.0):
        return self.cdp.call(method, params, session=self.session, timeout=timeout)

    def log_tail(self, n=20):
        self.log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def navigate(self, url: str, timeout: float) -> str | None:
        """Load url and wait for its load event; returns an error text or None."""
        self.cdp.events.clear()
        result = self.call("Page.navigate", {"url": url}, timeout=timeout)
        if result.get("errorText"):
            return f"navigation failed: {result['errorText']}"
        if self.cdp.wait_event("Page.loadEventFired", self.session, timeout) is None:
            return f"no load event within {timeout:.0f} s"
        return None

    def evaluate(self, expression: str, timeout: float):
        result = self.call("Runtime.evaluate",
                           {"expression": expression, "awaitPromise": True, "returnByValue": True},
                           timeout=timeout)
        if "exceptionDetails" in result:
            raise CheckError(f"page script failed: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        """Full-page PNG: grow the viewport to the page's height, capture, restore."""
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        height = int(min(max(size["height"], VIEWPORT[1]), MAX_SCREENSHOT_HEIGHT))
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": VIEWPORT[0], "height": height, "deviceScaleFactor": 1, "mobile": False})
        try:
            time.sleep(0.5)  # let the layout settle at the new size
            data = self.call("Page.captureScreenshot", {"format": "png"}, timeout=120)["data"]
        finally:
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self):
        try:
            self.cdp.call("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - best effort, the process is killed below
            pass
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass

    def kill(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def network_problems(events: list[dict], session: str, base: str) -> tuple[int, list[str]]:
    """Requests that left the local server, and local requests that failed."""
    problems, urls = [], {}
    count = 0
    for event in events:
        if event.get("sessionId") != session:
            continue
        method, params = event["method"], event.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            urls[params["requestId"]] = url
            count += 1
            if not url.startswith(base) and not url.startswith(("data:", "blob:", "about:")):
                problems.append(f"request outside the local server: {url}")
        elif method == "Network.responseReceived":
            status = params["response"]["status"]
            url = params["response"]["url"]
            if status >= 400 and not url.endswith("/favicon.ico"):
                problems.append(f"HTTP {status} for {url}")
        elif method == "Network.loadingFailed":
            url = urls.get(params["requestId"], "?")
            if not params.get("canceled") and not url.endswith("/favicon.ico") and url.startswith(base):
                problems.append(f"failed to load {url}: {params.get('errorText')}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = (details.get("exception") or {}).get("description") or details.get("text")
            problems.append(f"uncaught JavaScript exception: {str(text).splitlines()[0]}")
    return count, problems


def static_counts(html_file: Path) -> dict:
    text = html_file.read_text(encoding="utf8", errors="replace")
    return {
        "tables": len(re.findall(r"<table\b", text)),
        "images": len(re.findall(r"<img\b", text)),
        "math": len(re.findall(r'<(?:span|div)\b[^>]*\bclass="[^"]*\bmath\b', text)),
    }


def check_page(browser: Browser, base: str, rel: str, html_file: Path, timeout: float) -> tuple[str, list[str], dict]:
    expected = static_counts(html_file)
    problems: list[str] = []
    error = browser.navigate(base + urllib.parse.quote(rel), timeout)
    if error:
        return f"{rel}: {error}", [error], {}
    info = browser.evaluate(CHECK_JS % {"timeout": int(timeout * 1000)}, timeout + 30)
    browser.cdp.drain(0.3)
    n_requests, net = network_problems(browser.cdp.events, browser.session, base)
    problems += net

    images = info["images"]
    for src in images["broken"]:
        problems.append(f"image did not load: {src}")
    if images["total"] < expected["images"]:
        problems.append(f"{expected['images']} <img> in the HTML but {images['total']} in the page")

    tables = info["tables"]
    if len(tables) < expected["tables"]:
        problems.append(f"{expected['tables']} tables in the HTML but {len(tables)} in the page")
    for i, table in enumerate(tables):
        if table["rows"] == 0:
            problems.append(f"table {i + 1} ({table['id']}) has no rows")
        if table.get("overflow", 0) > 2 and table["width"] > 0:
            problems.append(f"table {i + 1} ({table['id']}) is {table['overflow']:.0f} px wider than the page "
                            f"at {VIEWPORT[0]} px (a scroll bar hides it)")
    for fig in info.get("figures", []):
        if not fig["caption"] or not fig["numbered"]:
            problems.append(f"image {fig['src']} is not a numbered figure with a caption")
        if fig["alt_is_name"]:
            problems.append(f"image {fig['src']} has no alt text (alt={fig['alt']!r})")
    if not info.get("favicon"):
        problems.append("no favicon link")

    math = info["math"]
    if expected["math"]:
        if not math["script"]:
            problems.append(f"{expected['math']} formulas but no MathJax script on the page")
        elif math["state"] != "typeset":
            problems.append(f"MathJax: {math['state']}")
        if math["containers"] == 0:
            problems.append("formulas present but no <mjx-container> rendered")
    elif math["script"] and math["state"] != "typeset":
        problems.append(f"MathJax: {math['state']}")
    if math["script"] and "://" in math["script"]:
        problems.append(f"MathJax loaded from an absolute URL: {math['script']}")
    for label, items in (("formula(s) not typeset", math["untypeset"]),
                         ("MathJax error(s)", math["merrors"]),
                         ("text node(s) with raw TeX", math["raw_tex"])):
        if items:
            shown = ", ".join(repr(t) for t in items[:3])
            more = f" and {len(items) - 3} more" if len(items) > 3 else ""
            problems.append(f"{len(items)} {label}: {shown}{more}")
    for family in math["fonts_failed"]:
        problems.append(f"MathJax font failed to load: {family}")

    visible_tables = sum(1 for t in tables if t["width"] > 0 and t["height"] > 0)
    line = (
        f"{'ok  ' if not problems else 'FAIL'} {rel:<60} "
        f"images {images['ok']}/{images['total']}  "
        f"tables {len(tables)} ({visible_tables} visible, {sum(t['rows'] for t in tables)} rows)  "
        f"math {math['containers']} typeset/{math['elements']} formulas, fonts {math['fonts_loaded']}  "
        f"requests {n_requests}"
    )
    return line, problems, info


def check_redirect(browser: Browser, base: str, root_rel: str, timeout: float) -> list[str]:
    error = browser.navigate(base + "index.html", timeout)
    if error:
        return [f"index.html: {error}"]
    deadline = time.monotonic() + timeout
    path = ""
    while time.monotonic() < deadline:
        try:
            path = browser.evaluate("location.pathname", 10)
        except CheckError:
            path = ""
        if path == "/" + root_rel:
            return []
        time.sleep(0.2)
    return [f"index.html does not lead to {root_rel} (stopped at {path!r})"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html_dir", type=Path, help="the built site, e.g. _build/html")
    parser.add_argument("--toc", type=Path, default=REPO_ROOT / "_toc.yml", help="the book's _toc.yml")
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="where to save screenshots (default: <html_dir>/../screenshots)")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", CHROMIUM))
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per page")
    args = parser.parse_args(argv)

    html_dir = args.html_dir.resolve()
    if not (html_dir / "index.html").is_file():
        print(f"check_pages: {html_dir}/index.html not found: build the book first (make html)", file=sys.stderr)
        return 2
    if not (shutil.which(args.chromium) or Path(args.chromium).is_file()):
        print(f"check_pages: {args.chromium} not found: install Debian's chromium "
              "(apt-get install -y chromium)", file=sys.stderr)
        return 2
    root, files = toc_files(args.toc)
    pages = []
    missing = []
    for f in files:
        rel = f + ".html"
        (pages if (html_dir / rel).is_file() else missing).append(rel)
    screenshot_dir = (args.screenshots or html_dir.parent / "screenshots").resolve()

    failures: list[str] = [f"{rel}: page of a toc entry was not built" for rel in missing]
    server, server_errors = start_server(html_dir)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    browser = None
    started = time.monotonic()
    try:
        browser = Browser(args.chromium)
        print(f"check_pages: {len(pages)} pages of {args.toc.name} from {html_dir} at {base} in {browser.version}")
        infos = {}
        for rel in pages:
            line, problems, info = check_page(browser, base, rel, html_dir / rel, args.timeout)
            infos[rel] = info
            print(line, flush=True)
            for p in problems:
                print(f"       - {p}")
            failures += [f"{rel}: {p}" for p in problems]
        # Screenshots for humans: the root page and the first notebook page with a figure.
        notebooks = [rel for rel in pages if rel.startswith("notebooks/")]
        with_figures = [rel for rel in notebooks if infos.get(rel) and infos[rel]["images"]["total"]]
        shots = [root + ".html"] + (with_figures or notebooks)[:1]
        for old in screenshot_dir.glob("*.png"):
            old.unlink()
        for rel in shots:
            if rel in pages and not browser.navigate(base + urllib.parse.quote(rel), args.timeout):
                browser.evaluate(CHECK_JS % {"timeout": int(args.timeout * 1000)}, args.timeout + 30)
                name = "index.png" if rel == root + ".html" else Path(rel).stem + ".png"
                browser.screenshot(screenshot_dir / name)
        redirect = check_redirect(browser, base, root + ".html", args.timeout)
        print(f"{'ok  ' if not redirect else 'FAIL'} {'index.html':<60} redirects to {root}.html")
        failures += redirect
    except CheckError as exc:
        failures.append(f"browser: {exc}")
    finally:
        if browser is not None:
            browser.close()
            browser.kill()
        server.shutdown()
        server.server_close()
    failures += [f"local server answered {e}" for e in server_errors
                 if not any(e.split(" ", 1)[1] in f for f in failures)]

    elapsed = time.monotonic() - started
    if screenshot_dir.is_dir():
        shots = sorted(p.name for p in screenshot_dir.glob("*.png"))
        print(f"check_pages: screenshots in {screenshot_dir}: {', '.join(shots)}")
    if failures:
        print(f"\ncheck_pages: FAILED, {len(failures)} problem(s) in {elapsed:.1f} s:", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    print(f"check_pages: all {len(pages)} pages passed in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
