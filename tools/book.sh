#!/usr/bin/env bash
# Set up (first time) and build the book: tangle the chapters into src/dlbook, execute every
# chapter and write the HTML to _build/html (open _build/html/index.html).
# Extra arguments go to jupyter-book, e.g. `bash tools/book.sh --all` for a clean rebuild.
source "$(dirname "$0")/setup.sh"
python tools/tangle.py
jupyter-book build . -W -n --keep-going "$@"
