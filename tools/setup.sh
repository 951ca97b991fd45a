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
# axe-core (accessibility rules for tools/check_html.py), pinned, from npm, into .venv/share.
AXE_VERSION=4.14.1
AXE_SHA256=e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745   # the npm tarball
if [ ! -f ".venv/share/axe-core-$AXE_VERSION/axe.min.js" ]; then
  axe_tmp=$(mktemp -d)
  (cd "$axe_tmp" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null)
  echo "$AXE_SHA256  $axe_tmp/axe-core-$AXE_VERSION.tgz" | sha256sum --check --quiet
  mkdir -p ".venv/share/axe-core-$AXE_VERSION"
  tar -xzf "$axe_tmp/axe-core-$AXE_VERSION.tgz" -C ".venv/share/axe-core-$AXE_VERSION" \
    --strip-components=1 package/axe.min.js package/LICENSE package/LICENSE-3RD-PARTY.txt
  rm -rf "$axe_tmp"
fi
