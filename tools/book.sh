#!/usr/bin/env bash
# Set up (first time) and build the book: tangle the chapters into src/dlbook, execute every
# chapter and write the HTML to _build/html (open _build/html/index.html).
# The same build (same command) is step 3 of the test command, tools/test.sh, which then checks
# what it executed (tests/test_build_report.py): the chapters are executed once, by the build.
# Extra arguments go to jupyter-book, e.g. `bash tools/book.sh --all` for a clean rebuild.
source "$(dirname "$0")/setup.sh"
python tools/tangle.py
jupyter-book build . -W -n --keep-going "$@"
