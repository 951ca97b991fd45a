#!/usr/bin/env bash
# Set up (first time) and run every test: src/dlbook must match the book (tangle --check), ruff
# finds nothing, then pytest runs the package tests, the tangler tests and executes every chapter
# (nbmake), 2 workers.
# Extra arguments go to pytest, e.g. `bash tools/test.sh -k perceptron`.
source "$(dirname "$0")/setup.sh"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1   # 2 workers on 2 cores
python tools/tangle.py --check
ruff check src tools tests benchmarks          # lint: config in pyproject.toml, zero findings
python tools/notebooks.py tests/chapters
python -m pytest -n 2 --nbmake --nbmake-timeout=900 tests "$@"
