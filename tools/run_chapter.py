#!/usr/bin/env python
"""Execute one chapter (a MyST markdown notebook) the way the book build does, and report.

    python tools/run_chapter.py book/ch02_perceptrons.md [--no-tangle] [--save out.ipynb]

Tangles first (so ``dlbook`` is current), runs every cell in a fresh kernel from the chapter's
folder, and fails on an error or on any output to stderr (the build treats stderr as a warning).
"""
import argparse
import subprocess
import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("chapter", type=Path)
    ap.add_argument("--no-tangle", action="store_true")
    ap.add_argument("--save", type=Path, help="write the executed notebook here")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args(argv)
    if not args.no_tangle:
        r = subprocess.run([sys.executable, str(ROOT / "tools" / "tangle.py")])
        if r.returncode:
            return r.returncode
    nb = jupytext.read(args.chapter)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(args.chapter.resolve().parent)}})
    failed = False
    try:
        client.execute()
    except CellExecutionError as e:
        print(str(e)[-4000:])
        failed = True
    elapsed = time.perf_counter() - start
    stderr = 0
    for k, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                stderr += 1
                print(f"--- stderr of code cell {k} ---\n{out['text'][:2000]}")
    if args.save:
        jupytext.write(nb, args.save)
    status = "FAILED" if failed or stderr else "ok"
    print(f"{args.chapter}: {status} in {elapsed:.1f} s ({stderr} stderr outputs)")
    return 1 if failed or stderr else 0


if __name__ == "__main__":
    sys.exit(main())
