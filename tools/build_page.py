#!/usr/bin/env python
"""Build the whole book into a scratch folder, executing only one page, and list that page's warnings.

    python tools/build_page.py book/ch02_perceptrons.md [--out /tmp/dlbook-page-ch02]

For authors: quicker than a full build (other pages are not executed, so their own glue/figure
warnings are ignored), and safe to run while someone else builds (separate output folder). The
real check is the full build: ``jupyter-book build . -W -n --keep-going``.
"""
import argparse
import io
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("page", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    page = args.page.resolve().relative_to(ROOT).as_posix()
    out = args.out or Path(f"/tmp/dlbook-page-{Path(page).stem}")
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "tangle.py")])
    if r.returncode:
        return r.returncode
    others = [p.relative_to(ROOT).as_posix() for p in (ROOT / "book").glob("*.md")
              if p.relative_to(ROOT).as_posix() != page]
    from jupyter_book.sphinx import build_sphinx
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        build_sphinx(ROOT, out / "html", noconfig=True, path_config=str(ROOT / "_config.yml"),
                     confoverrides={"nb_execution_excludepatterns": others,
                                    "latex_individualpages": False}, keep_going=True)
    stem = page[:-3]
    mine = [ln for ln in err.getvalue().splitlines()
            if (page in ln or stem + ":" in ln or stem + ".md" in ln) and "WARNING" in ln.upper()
            or ("ERROR" in ln and page in ln)]
    for ln in mine:
        print(ln)
    print(f"{page}: {len(mine)} warning(s); HTML in {out / 'html' / (stem + '.html')}")
    return 1 if mine else 0


if __name__ == "__main__":
    sys.exit(main())
