#!/usr/bin/env bash
# Set up a working copy: .venv with samen and its test tools, and the FHIR R4 definitions.
# Safe to run again: each step is skipped when it is already done.
#   SAMEN_REINSTALL=1  reinstall the Python packages even when pyproject.toml did not change
#   PYTHON=/path/to/python3  the interpreter for a new .venv (default: the first python3.x >= 3.11 found)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "install.sh: $*"; }

recent_enough() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

# 1. The virtual environment (Python >= 3.11, as pyproject.toml requires).
if [ -x .venv/bin/python ] && ! recent_enough .venv/bin/python; then
  say ".venv has a Python older than 3.11 or a broken one: making it anew"
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  python=""
  for candidate in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
    if command -v "$candidate" >/dev/null && recent_enough "$candidate"; then python=$candidate; break; fi
  done
  if [ -z "$python" ]; then
    echo "install.sh: no Python >= 3.11 found (tried python3, python3.13, python3.12, python3.11); set PYTHON=" >&2
    exit 1
  fi
  say "creating .venv with $("$python" --version) ($(command -v "$python"))"
  if ! "$python" -m venv .venv; then
    echo "install.sh: '$python -m venv' failed; on Debian: apt-get install python3-venv" >&2
    exit 1
  fi
fi

# 2. samen (editable) with its pinned dependencies and the test tools; skipped when pyproject.toml
#    is unchanged since the last successful install and the package still imports.
stamp=.venv/.samen-installed
want=$(sha256sum <pyproject.toml | cut -d" " -f1)
if [ "${SAMEN_REINSTALL:-}" = 1 ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] \
   || ! .venv/bin/python -c 'import samen, pytest, xdist' 2>/dev/null; then
  say "installing samen and its pinned dependencies into .venv (pip install -e '.[test]')"
  pip_status=0
  pip_log=$(mktemp)
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input -e '.[test]' \
    2>"$pip_log" || pip_status=$?
  # pip's messages, less the noise of a pip.conf that names local package folders that do not exist
  grep -v "is ignored: it is neither a file nor a directory" "$pip_log" >&2 || true
  rm -f "$pip_log"
  if [ "$pip_status" != 0 ]; then
    echo "install.sh: pip install failed (exit $pip_status), see above" >&2
    exit "$pip_status"
  fi
  echo "$want" >"$stamp"
fi

# 3. The FHIR R4 definitions (downloaded once, verified, cached under ~/.local/share/samen).
.venv/bin/samen definitions fetch
