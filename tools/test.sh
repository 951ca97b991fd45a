#!/usr/bin/env bash
# The test command (what .ci/run calls). Sets up .venv (first time), then:
#  1. src/dlbook must match the book (tangle --check) and ruff finds nothing;
#  2. pytest runs the package, tangler and publishing tests (2 workers, one BLAS thread each);
#  3. the book build executes every chapter page, once: `jupyter-book build . -W -n --keep-going`
#     (MyST-NB, allow_errors false: a failing cell, or anything on stderr, fails the build);
#  4. tests/test_build_report.py reads what that build executed (_build/execution.json and
#     _build/jupyter_execute/): every chapter page executed, no error output, <= 90 s, from the
#     current page and src/dlbook; it prints the table of execution times.
# The HTML in _build/html is therefore exactly what was tested. Locally the build reuses MyST-NB's
# cache (_build/.jupyter_cache, kept honest by tools/dlbook_sphinx.py); CI starts without one.
# Extra arguments select package tests and skip the book, e.g. `bash tools/test.sh -k perceptron`.
source "$(dirname "$0")/setup.sh"
python tools/tangle.py --check
ruff check src tools tests benchmarks          # lint: config in pyproject.toml, zero findings
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
  python -m pytest -n 2 tests --ignore=tests/test_build_report.py "$@"
if [ $# -gt 0 ]; then
  echo "test.sh: test selection given; the book was not built (run without arguments for all)"
  exit 0
fi
jupyter-book build . -W -n --keep-going
python -m pytest tests/test_build_report.py
