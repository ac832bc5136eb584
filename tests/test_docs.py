"""The documentation site, as a reader gets it: `make docs` builds it strict, and headless
Chromium (Debian's package, driven by Playwright by its path; no browser is ever downloaded)
opens every page from a local HTTP server. A page passes when it logs no console error and
throws nothing, fetches nothing it lacks (nor anything off this machine: the site carries its
own mermaid), draws each mermaid diagram as an SVG, and every link into the site reaches a page
(and the heading its fragment names). Screenshots of two pages land in target/docs-shots/ for a
person to look at. The checker is itself tested on a site broken on purpose."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "target" / "docs-shots"
# Pages a person should look at after a change to the site's look.
SCREENSHOTS = {"getting-started/": "getting-started.png", "resources/endpoint/": "endpoint.png"}
# As the machine's notes start Chromium headless: without the background-networking flags it
# dials Google's hosts at start, which a closed network refuses, loudly.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Material replaces each `pre.mermaid` with a `div.mermaid` holding the SVG in a *closed* shadow
# root; the test opens it (before any page script runs) so the SVG can be read. The site is not
# changed: only this browser's attachShadow.
OPEN_SHADOW_ROOTS = """
const attach = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) { return attach.call(this, {...init, mode: "open"}); };
"""


def chromium_path() -> str:
    """The browser: CHROMIUM when set (a runner whose Chromium-family browser is elsewhere, such
    as GitHub's Ubuntu images, whose `chromium` package is a snap), else Debian's chromium,
    installed here when missing (the test's set-up, as `make test` runs it on a fresh machine)."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    found = shutil.which("chromium")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = sudo + ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        # A fresh machine may not have read its package lists yet.
        subprocess.run(sudo + ["apt-get", "update"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)
    found = shutil.which("chromium")
    assert found, "apt-get installed chromium, but it is not on PATH"
    return found


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def serve(directory: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/", server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The site as `make docs` builds it (strict), served over HTTP."""
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        ["make", "--no-print-directory", "docs", f"SITE_DIR={out}"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, f"make docs failed:\n{built.stdout}\n{built.stderr}"
    url, server = serve(out)
    yield out, url
    server.shutdown()


def pages_of(site_dir: Path) -> list[str]:
    """Every page of the site, as its path under the root (`getting-started/`)."""
    pages = []
    for html in sorted(site_dir.rglob("index.html")):
        relative = html.parent.relative_to(site_dir).as_posix()
        if relative.startswith("assets"):
            continue
        pages.append("" if relative == "." else relative + "/")
    return pages


def page_problems(browser: object, root: str, path: str, shot: Path | None = None) -> list[str]:
    """What is wrong with one page as Chromium shows it: console errors, uncaught exceptions,
    failed or refused requests, mermaid diagrams not drawn, links into the site that lead
    nowhere."""
    problems: list[str] = []
    page = browser.new_page()  # type: ignore[attr-defined]
    page.add_init_script(OPEN_SHADOW_ROOTS)
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))

    def answered(response: object) -> None:
        if response.status >= 400:  # type: ignore[attr-defined]
            problems.append(f"HTTP {response.status}: {response.url}")  # type: ignore[attr-defined]

    page.on("response", answered)
    page.goto(root + path, wait_until="networkidle")
    diagrams = page.locator("pre.mermaid, div.mermaid").count()
    if diagrams:
        # Drawn: every diagram replaced by a div.mermaid whose (opened) shadow root holds an SVG.
        try:
            page.wait_for_function(
                """n => document.querySelectorAll('pre.mermaid').length === 0 &&
                       [...document.querySelectorAll('div.mermaid')].filter(
                         d => d.shadowRoot && d.shadowRoot.querySelector('svg')).length === n""",
                arg=diagrams,
                timeout=15_000,
            )
        except Exception:  # noqa: BLE001 (playwright's TimeoutError; the count says the rest)
            drawn = page.evaluate(
                "[...document.querySelectorAll('div.mermaid')].filter(d => d.shadowRoot && d.shadowRoot.querySelector('svg')).length"
            )
            problems.append(f"{drawn} of {diagrams} mermaid diagrams drawn as SVG")
        errors = page.evaluate(
            """[...document.querySelectorAll('div.mermaid')].map(d => d.shadowRoot ?
                 d.shadowRoot.textContent : '').filter(t => /Syntax error/i.test(t)).length"""
        )
        if errors:
            problems.append(f"{errors} mermaid diagrams drawn as mermaid's syntax-error picture")
    problems.extend(broken_links(page, root))
    if shot is not None:
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
    page.close()
    return [f"{path or '/'}: {p}" for p in problems]


def broken_links(page: object, root: str) -> list[str]:
    """Links into the site whose page is missing, or whose fragment names no element there."""
    hrefs = page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")  # type: ignore[attr-defined]
    problems = []
    for href in sorted(set(hrefs)):
        if not href.startswith(root):
            continue
        target, _, fragment = href.partition("#")
        answer = page.request.get(target)  # type: ignore[attr-defined]
        if answer.status != 200:
            problems.append(f"link to {href}: HTTP {answer.status}")
            continue
        if fragment and "text/html" in answer.headers.get("content-type", ""):
            ids = set(re.findall(r'\bid="([^"]+)"', answer.text()))
            if urllib.parse.unquote(fragment) not in ids:
                problems.append(f"link to {href}: no element with id {fragment!r} there")
    return problems


def test_every_page_of_the_docs_renders_draws_its_diagrams_and_links_only_to_what_exists(
    browser: object, site: tuple[Path, str]
) -> None:
    site_dir, root = site
    pages = pages_of(site_dir)
    assert {"", "getting-started/", "resources/endpoint/", "architecture/"} <= set(pages), pages
    problems = []
    for path in pages:
        shot = SHOTS / SCREENSHOTS[path] if path in SCREENSHOTS else None
        problems += page_problems(browser, root, path, shot)
    assert not problems, "\n".join(problems)
    for name in SCREENSHOTS.values():
        assert (SHOTS / name).stat().st_size > 10_000, f"{name}: an empty screenshot"


def test_the_docs_draw_a_diagram_on_the_pages_that_have_one(site: tuple[Path, str]) -> None:
    # The mermaid check above counts only diagrams it finds: make sure the site has them, as
    # written in the Markdown, so a build that lost the fence still fails.
    site_dir, _ = site
    sources = [p for p in (REPO / "docs").rglob("*.md") if "```mermaid" in p.read_text()]
    assert len(sources) >= 3, "the architecture, the acceptance loop and the home page draw diagrams"
    for source in sources:
        page = source.relative_to(REPO / "docs").with_suffix("")
        html = site_dir / ("" if page.name == "index" else page) / "index.html"
        fences = source.read_text().count("```mermaid")
        assert html.read_text().count('class="mermaid"') == fences, source


def test_the_checker_finds_a_script_error_an_undrawn_diagram_and_a_link_to_nowhere(
    browser: object, tmp_path: Path
) -> None:
    # A site broken on purpose, built by the same mkdocs (not strict: a strict build refuses the
    # dead link before a browser could see it) with the same theme and mermaid.
    docs = tmp_path / "docs"
    (docs / "assets" / "vendor").mkdir(parents=True)
    mermaid = REPO / "docs" / "assets" / "vendor" / "mermaid.min.js"
    assert mermaid.exists(), "make docs fetches mermaid (the site fixture runs it first)"
    shutil.copy(mermaid, docs / "assets" / "vendor")
    (docs / "index.md").write_text(
        "# Broken\n\n```mermaid\nflowchart LR\n    A -- (unclosed --> \n```\n\n"
        '<a href="missing/">a page that is not there</a>\n\n'
        "<script>throw new Error('boom');</script>\n"
    )
    config = (REPO / "mkdocs.yml").read_text()
    config = re.sub(r"(?ms)^nav:.*", "nav:\n  - Broken: index.md\n", config)
    config = config.replace("strict: true", "strict: false")
    config = re.sub(r"(?m)^watch:\n(  - .*\n)+", "", config)  # the README is not beside it
    (tmp_path / "mkdocs.yml").write_text(config)
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(tmp_path / "site")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    root, server = serve(tmp_path / "site")
    try:
        problems = "\n".join(page_problems(browser, root, ""))
    finally:
        server.shutdown()
    assert "uncaught: boom" in problems, problems
    assert "0 of 1 mermaid diagrams drawn" in problems, problems
    assert "link to " + root + "missing/: HTTP 404" in problems, problems


def test_the_readme_is_short_and_names_only_targets_and_files_that_exist() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 250, "the README introduces; the site (docs/) explains"
    targets = set(re.findall(r"(?m)^([a-z][a-z-]*):", (REPO / "Makefile").read_text()))
    named = set(re.findall(r"\bmake ([a-z][a-z-]*)", readme))
    assert {"demo", "test", "docs", "docs-serve", "connect"} <= named, named
    assert named <= targets, f"the README names make targets that don't exist: {named - targets}"
    paths = set(re.findall(r"`((?:docs|templates|tools|tests|functions)/[\w./-]*[\w/])`", readme))
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, f"the README names files that don't exist: {missing}"
