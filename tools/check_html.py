#!/usr/bin/env python
"""Open every page of the built book in headless Chromium with the network cut off.

    python tools/check_html.py _build/html [--browser /usr/bin/chromium] [--screenshot DIR]

Serves the HTML on 127.0.0.1 and blocks every request to any other host. Fails (exit 1) when a
page logs a console error or throws, a request is blocked or fails (the book must work offline),
math on the page is not typeset by the bundled MathJax, an image does not load, an exported
cell has no dlbook badge, a heading shows Sphinx's section number before the notes' own, the
page at a wide viewport (1400 px) shows other than exactly one search box, or axe-core (pinned,
installed by tools/setup.sh into .venv/share) reports a violation of impact serious or critical,
or headings out of order (every page gets a one-line summary of axe's findings by impact), or a
figure image has no alt text (only its file name). Also checks, from the files, every link from
a code cell to the API reference, every chapter download (.ipynb, .md) and every figure file
(figures/<label>.svg|png).
"""
import argparse
import functools
import http.server
import re
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
AXE_JS = ROOT / ".venv" / "share" / "axe-core-4.14.1" / "axe.min.js"   # tools/setup.sh installs it
FAILING_IMPACTS = ("serious", "critical")
FAILING_RULES = ("heading-order",)         # "headings in order" (issue 8), though axe rates it moderate
WIDE = {"width": 1400, "height": 900}      # the header showed two search boxes at this width
# axe rules excluded, each with the reason (third-party markup we cannot change): none so far.
AXE_OPTIONS = {"resultTypes": ["violations"]}

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def serve(root: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def check_page(page, url: str) -> list[str]:
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"JavaScript error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    page.goto(url, wait_until="load")
    has_math = page.evaluate("document.querySelectorAll('.math, span.math, div.math').length")
    if has_math:
        try:
            page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise"
                                   " && document.querySelectorAll('mjx-container').length > 0",
                                   timeout=20000)
            page.evaluate("MathJax.startup.promise")
        except Exception:
            problems.append(f"math not typeset ({has_math} math elements, no mjx-container)")
        errors = page.evaluate("document.querySelectorAll('mjx-merror').length")
        if errors:
            problems.append(f"{errors} MathJax error(s) in typeset math")
    broken = page.evaluate("""[...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
                              .map(i => i.getAttribute('src'))""")
    problems += [f"image does not load: {src}" for src in broken]
    unbadged = page.evaluate("""[...document.querySelectorAll('div.cell[class*="tag_export-"]')]
        .filter(c => !c.querySelector(':scope > .dlbook-badge')).length""")
    if unbadged:
        problems.append(f"{unbadged} exported cell(s) without a dlbook badge")
    no_alt = page.evaluate(r"""[...document.querySelectorAll('article img')]
        .filter(i => !(i.getAttribute('alt') || '').trim()
                     || /\.(png|svg|jpe?g|gif)$/i.test(i.getAttribute('alt').trim()))
        .map(i => i.getAttribute('src'))""")
    problems += [f"image without alt text (or only its file name): {src[:80]}" for src in no_alt]
    searches = page.evaluate("""[...document.querySelectorAll(
            'input[type="search"], input[name="q"], .search-button-field, button.search-button')]
        .filter(e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden')
        .length""")
    if searches != 1:
        problems.append(f"{searches} visible search boxes at {WIDE['width']} px (want exactly 1)")
    doubled = page.evaluate(r"""[document.title, ...[...document.querySelectorAll('h1, h2, h3, nav a')]
        .map(e => e.textContent.trim())].filter(t => /^\d+(\.\d+)*\.\s+\d/.test(t))""")
    problems += [f"heading numbered twice (Sphinx's number before the notes'): {t!r}" for t in doubled]
    return problems


def check_axe(page, axe_source: str) -> tuple[list[str], str]:
    """Run axe-core on the loaded page. Returns (problems: one per serious or critical rule
    violated, with its first offending elements; summary: violations counted by impact)."""
    page.add_script_tag(content=axe_source)
    violations = page.evaluate("options => axe.run(document, options).then(r => r.violations"
                               ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
                               " targets: v.nodes.map(n => n.target.join(' '))})))", AXE_OPTIONS)
    counts = {}
    problems = []
    for v in violations:
        counts[v["impact"]] = counts.get(v["impact"], 0) + len(v["targets"])
        if v["impact"] in FAILING_IMPACTS or v["id"] in FAILING_RULES:
            shown = ", ".join(v["targets"][:3]) + (" ..." if len(v["targets"]) > 3 else "")
            problems.append(f"axe {v['impact']}: {v['id']} ({v['help']}) on "
                            f"{len(v['targets'])} element(s): {shown}")
    summary = ", ".join(f"{counts[k]} {k}" for k in ("critical", "serious", "moderate", "minor")
                        if k in counts) or "no violations"
    return problems, summary


LINK = re.compile(r'<a\b[^>]*?href="([^"#]*)(?:#([^"]*))?"[^>]*>')


def check_links(root: Path, pages) -> dict:
    """Links that must resolve inside the site, without a browser: every code-cell name linked
    to its API entry (sphinx-codeautolink, each distinct target once), every download of a
    chapter (``_sources/…ipynb|md``) and every figure file (``figures/…``). Returns
    ``{page: [problems]}``."""
    ids, problems = {}, {}

    def anchors(path):
        if path not in ids:
            ids[path] = set(re.findall(r'\bid="([^"]+)"', path.read_text(errors="replace")))
        return ids[path]

    checked = {}
    for page in pages:
        html = page.read_text(errors="replace")
        for m in LINK.finditer(html):
            tag, href, anchor = m.group(0), m.group(1), m.group(2)
            if not ("sphinx-codeautolink-a" in tag or "_sources/" in href or "figures/" in href) \
                    or "://" in href or not href:
                continue
            target = (page.parent / href).resolve()
            key = (target, anchor)
            if key not in checked:
                checked[key] = (f"broken link {href}" + (f"#{anchor}" if anchor else "")
                                if not target.is_file() or (anchor and target.suffix == ".html"
                                                            and anchor not in anchors(target))
                                else None)
            if checked[key]:
                problems.setdefault(page, []).append(checked[key])
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("--browser", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--screenshot", type=Path, help="save a PNG of every page here")
    ap.add_argument("--axe", type=Path, default=AXE_JS, help="axe-core's axe.min.js")
    args = ap.parse_args(argv)
    if not args.axe.is_file():
        ap.error(f"{args.axe} not found: run `source tools/setup.sh` (installs axe-core)")
    axe_source = args.axe.read_text(encoding="utf-8")
    pages = sorted(p for p in args.html.rglob("*.html")
                   if not any(part.startswith(("_", ".")) for part in p.relative_to(args.html).parts)
                   and 'http-equiv="Refresh"' not in p.read_text(errors="replace")[:2000])
    link_problems = check_links(args.html, pages)
    server = serve(args.html)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    blocked = []
    failures = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.browser, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=WIDE)

        def route(r):
            if urlparse(r.request.url).hostname in ("127.0.0.1", "localhost"):
                return r.continue_()
            blocked.append(r.request.url)
            return r.abort()
        context.route("**/*", route)
        for path in pages:
            rel = path.relative_to(args.html).as_posix()
            page = context.new_page()
            before = len(blocked)
            problems = check_page(page, base + rel)
            problems = [p for p in problems if "net::ERR_FAILED" not in p or not blocked[before:]]
            problems += [f"blocked non-local request: {u}" for u in blocked[before:]]
            problems += link_problems.get(path, [])
            axe_problems, axe_summary = check_axe(page, axe_source)
            problems += axe_problems
            if args.screenshot:
                args.screenshot.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.screenshot / (rel.replace("/", "_") + ".png")),
                                full_page=False)
            page.close()
            failures += bool(problems)
            print(f"{'FAIL' if problems else 'ok  '} {rel}  [axe: {axe_summary}]")
            for p in dict.fromkeys(problems):
                print(f"     {p}")
        browser.close()
    server.shutdown()
    print(f"check_html: {len(pages)} pages, {failures} with problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
