# Sourced by tools/book.sh and tools/test.sh: create .venv and install requirements.txt
# (the book toolchain, numpy/matplotlib/scikit-learn, the test tools, torch==2.13.0 CPU, and
# `-e .` for dlbook itself). Re-installs only when requirements.txt or pyproject.toml change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat .venv/.dlbook-requirements 2>/dev/null || true)" != "$want" ]; then
  .venv/bin/python -m pip install -q -U pip
  .venv/bin/python -m pip install -q -r requirements.txt
  echo "$want" > .venv/.dlbook-requirements
fi
export PATH="$PWD/.venv/bin:$PATH"
# Real data sets (chapters 7-13) into the data folder ($DLBOOK_DATA, default ~/.cache/dlbook).
.venv/bin/python tools/fetch_data.py
