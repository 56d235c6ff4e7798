#!/usr/bin/env bash
# THE test command: set up what the tests need, then run the whole pytest suite on both engines.
#   bash scripts/test.sh                       everything, in parallel (pytest-xdist, -n auto)
#   bash scripts/test.sh -k sqlite -x          extra arguments go to pytest (-n 0: serial)
#   SAMEN_TEST_POSTGRES_URL=postgresql://...   use that server instead of starting one (see tests/pg_server.py)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "test.sh: $*"; }

# 1. Python environment and FHIR R4 definitions.
bash scripts/install.sh

# 2. System packages the tests use, installed only when missing (apt-get update only then too).
has_postgres() {
  command -v initdb >/dev/null || command -v postgres >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}
missing=()
if [ -z "${SAMEN_TEST_POSTGRES_URL:-}" ] && ! has_postgres; then
  say "PostgreSQL server not found: installing Debian's postgresql (every storage test also runs on PostgreSQL)"
  missing+=(postgresql)
fi
if ! command -v chromium >/dev/null; then
  say "Chromium not found: installing Debian's chromium (the browser tests drive it with Playwright)"
  missing+=(chromium)
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null; then
      echo "test.sh: need root to install ${missing[*]} (apt-get install ${missing[*]}); no sudo here" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say "installed ${missing[*]}"
fi

# 3. The suite. Exit code 5 means pytest collected no test: that is a failure, not a pass.
status=0
.venv/bin/pytest -n auto "$@" || status=$?
if [ "$status" = 5 ]; then
  echo "test.sh: FAILED: pytest collected no tests (exit code 5); check the arguments and tests/" >&2
  exit 1
fi
exit "$status"
