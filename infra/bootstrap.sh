#!/usr/bin/env bash
# Prepare this checkout on a fresh machine: a virtualenv with the pinned Python packages,
# and the deployment tooling from npm. Idempotent and quick when nothing changed.
# PostgreSQL, PgBouncer and OpenSSL are installed by `python -m infra.local.neon_local` when it first runs.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'bootstrap: %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }

apt_updated=""
apt_install() {
  if ! is_root; then
    say "missing system packages; run: sudo apt-get install -y $*"
    exit 1
  fi
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

usable() { "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }

# Lambda runs Python 3.12: prefer it (also from pyenv), then any Python 3.11+.
pick_python() {
  local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}" candidate
  for candidate in python3.12 "$pyenv_root"/versions/3.12*/bin/python3.12 python3.13 python3; do
    if usable "$candidate"; then echo "$candidate"; return; fi
  done
  apt_install python3 python3-venv
  echo python3
}

make_venv() {
  [ -x .venv/bin/python ] && return
  local python
  python=$(pick_python)
  say "creating .venv with $($python --version)"
  "$python" -m venv .venv 2>/dev/null || { apt_install python3-venv; "$python" -m venv .venv; }
}

# Exactly what the lock pins, each file checked against its recorded hash (infra/packaging/locks.py
# makes the lock; `make lock-check` says when requirements*.txt moved on without it).
install_python_packages() {
  local stamp=.venv/.requirements.sha256 want
  want=$(sha256sum requirements-dev.lock | cut -d' ' -f1)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
  say "installing Python packages from requirements-dev.lock"
  .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes \
    -r requirements-dev.lock
  echo "$want" > "$stamp"
}

install_node_packages() {
  [ -f package-lock.json ] || return 0
  local stamp=node_modules/.lock.sha256 want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
  command -v npm >/dev/null || apt_install nodejs npm
  say "installing npm packages (deployment tooling)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" > "$stamp"
}

# The browser tests (tests/browser) drive Debian's headless Chromium: browsers cannot be
# downloaded, so it comes from apt. Without root they are skipped, saying why.
install_browser() {
  command -v chromium >/dev/null && return
  if ! is_root; then
    say "chromium missing: the browser tests will be skipped (sudo apt-get install -y chromium)"
    return
  fi
  say "installing chromium (browser tests)"
  apt_install chromium
}

make_venv
install_python_packages
install_node_packages
install_browser
