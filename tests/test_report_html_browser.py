"""The HTML report of a hostile estate in headless Chromium: no script runs, no element is injected,
no request leaves the page, nothing reaches the console (a CSP violation would), non-Latin text
survives, and the estate map renders. Chromium comes from tests/setup_chromium.sh (.ci/run); without it
these tests skip and say why.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers.map_estates import hostile_network
from helpers.report_docs import GREEK, IMG, JAPANESE, SCRIPT, hostile_document, hostile_estate, write_estate

from auditor.audit import demo_inputs, run_audit
from auditor.catalog import load_catalog
from auditor.config import Config
from auditor.report.html import TITLE, render_html

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.skip("headless Chromium not installed (run tests/setup_chromium.sh: apt-get install -y chromium)")


def run_chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        *extra,
        page.as_uri(),
    ]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=90, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("chromium did not finish within 90 s")


CONSOLE = re.compile(r":CONSOLE[:(]")  # a page's console message in Chromium's log (--enable-logging)


def load_page(page: Path, tmp_path: Path, netlog: Path) -> tuple[str, list[str]]:
    """The page's DOM after loading it, and what it wrote to the console: CSP violations (a blocked
    inline handler, style or fetch), errors and logs all land there; a clean report writes nothing."""
    proc = run_chromium(
        page,
        tmp_path / "profile",
        f"--log-net-log={netlog}",
        "--net-log-capture-mode=Default",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=3000",
        "--dump-dom",
    )
    dom = proc.stdout.decode("utf-8")
    if "<html" not in dom:
        pytest.skip(f"chromium produced no DOM (exit {proc.returncode}): {proc.stderr.decode()[-500:]}")
    console = [line for line in proc.stderr.decode("utf-8", "replace").splitlines() if CONSOLE.search(line)]
    return dom, console


def dump_dom(page: Path, tmp_path: Path, netlog: Path) -> str:
    return load_page(page, tmp_path, netlog)[0]


def page_requests(netlog: Path) -> list[str]:
    """URLs the page asked the network stack for: URL_REQUEST_START_JOB events in the file:// page's
    network isolation key. Chromium's own background requests (initiator "not an origin") are left out."""
    log = json.loads(netlog.read_text(encoding="utf-8", errors="replace"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = set()
    for e in log.get("events", []):
        params = e.get("params") or {}
        if e.get("type") != start_job or not isinstance(params.get("url"), str):
            continue
        if (
            str(params.get("network_isolation_key", "")).startswith("file://")
            or params.get("initiator") == "null"
        ):
            urls.add(params["url"])
    return sorted(urls)


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))

    handle_startendtag = handle_starttag


def check_dom(dom: str) -> None:
    # a script that ran could retitle the page; an unescaped payload would have created elements
    assert re.search(r"<title>([^<]*)</title>", dom).group(1) == TITLE
    parser = Elements()
    parser.feed(dom)
    tags = [t for t, _ in parser.elements]
    assert "script" not in tags and "img" not in tags and "iframe" not in tags
    handlers = [(t, k) for t, attrs in parser.elements for k, _ in attrs if k.lower().startswith("on")]
    assert handlers == []
    # the payloads are present as text (the DOM serialiser escapes < > & in text nodes)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert '"&gt;&lt;img src=x onerror=alert(1)&gt;' in dom
    assert JAPANESE in dom and GREEK in dom


def test_hostile_estate_in_chromium(tmp_path):
    estate = write_estate(tmp_path, hostile_estate())
    doc = run_audit([estate], Config()).document()
    names = {f["resource_id"].rsplit("/", 1)[-1] for f in doc["findings"]}
    assert IMG in names and f"{JAPANESE}-{GREEK}" in names and "script>" in names  # payloads reach the report
    assert any(SCRIPT in f["message"] for f in doc["findings"])
    page = tmp_path / "report.html"
    page.write_bytes(render_html(doc, load_catalog()))
    netlog = tmp_path / "netlog.json"
    dom = dump_dom(page, tmp_path, netlog)
    check_dom(dom)
    assert page_requests(netlog) == [], "the report made network requests"
    # a screenshot for humans (tests/artifacts is git-ignored)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "xss.png"
    shot.unlink(missing_ok=True)
    run_chromium(
        page,
        tmp_path / "profile2",
        f"--screenshot={shot}",
        "--window-size=1280,1800",
        "--virtual-time-budget=3000",
    )
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_crafted_document_in_chromium(tmp_path):
    page = tmp_path / "crafted.html"
    page.write_bytes(render_html(hostile_document(), load_catalog()))
    dom, console = load_page(page, tmp_path, tmp_path / "netlog.json")
    check_dom(dom)
    assert dom.count("<svg") == 2  # the flow diagram and the map of the flows, hostile labels as text
    assert console == []


def test_demo_report_with_the_estate_map_in_chromium(tmp_path, monkeypatch):
    """The demo's report with its estate map: rendered, no console message (no CSP violation), no
    request; a screenshot of the map for humans (tests/artifacts/map.png)."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    paths, display = demo_inputs()
    result = run_audit(paths, Config(), display)
    page = tmp_path / "demo.html"
    page.write_bytes(render_html(result.document(), load_catalog(), estate=result.estate))
    netlog = tmp_path / "netlog.json"
    dom, console = load_page(page, tmp_path, netlog)
    assert console == [], console
    assert page_requests(netlog) == [], "the report made network requests"
    assert re.search(r"<title>([^<]*)</title>", dom).group(1) == TITLE
    svg = dom[dom.index('<svg class="map"') : dom.index("</svg>", dom.index('<svg class="map"'))]
    for vnet in result.estate.vnets.values():
        assert vnet.name in svg
    assert svg.count('<g class="edge flow') >= 4 and svg.count('<g class="chip pe') == 5
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "map.png"
    shot.unlink(missing_ok=True)
    run_chromium(
        page,
        tmp_path / "profile2",
        f"--screenshot={shot}",
        "--window-size=1280,1400",
        "--virtual-time-budget=3000",
    )
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hostile_network_map_in_chromium(tmp_path):
    """VNet, NIC, route table and private endpoint names that are payloads: the map shows them as text."""
    result = run_audit([hostile_network().write(tmp_path / "resources.json")], Config())
    page = tmp_path / "map.html"
    page.write_bytes(render_html(result.document(), load_catalog(), estate=result.estate))
    netlog = tmp_path / "netlog.json"
    dom, console = load_page(page, tmp_path, netlog)
    assert console == [], console
    assert page_requests(netlog) == []
    check_dom(dom)
    svg = dom[dom.index('<svg class="map"') : dom.index("</svg>", dom.index('<svg class="map"'))]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "onerror=alert(1)" in svg
    assert JAPANESE in svg and GREEK in svg


def test_checks_detect_an_injection_and_a_request(tmp_path):
    """The browser checks can fail: a real <img onerror> is caught, and so is the request it makes
    once the CSP is gone (loopback port 9: nothing listens, nothing leaves the machine)."""
    page = tmp_path / "bad.html"
    html = render_html(hostile_document(), load_catalog()).replace(
        b"<footer>", b'<footer><img src=x onerror="1">'
    )
    page.write_bytes(html)
    dom, console = load_page(page, tmp_path, tmp_path / "netlog.json")
    with pytest.raises(AssertionError):
        check_dom(dom)
    assert any("Content Security Policy" in line for line in console), console  # the blocked handler
    leaky = tmp_path / "leaky.html"
    leaky.write_bytes(
        html.replace(b'http-equiv="Content-Security-Policy"', b'name="x"').replace(
            b"<footer>", b'<footer><img src="http://127.0.0.1:9/pixel.png">'
        )
    )
    netlog = tmp_path / "netlog2.json"
    dump_dom(leaky, tmp_path, netlog)
    assert page_requests(netlog) == ["http://127.0.0.1:9/pixel.png"]
