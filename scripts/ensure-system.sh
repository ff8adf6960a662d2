#!/usr/bin/env bash
# Make sure the system packages gridgis needs are present, installing what is missing.
#   ensure-system.sh python    python3 with venv and pip
#   ensure-system.sh test      + PostgreSQL running with PostGIS, Chromium, GDAL tools
#   ensure-system.sh bench     + wrk, for the HTTP benchmark
# Installs with apt-get (as root, or through sudo). Safe to run again: it only acts on gaps.
set -euo pipefail

want=${1:-python}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO="__none__"; fi
fi
updated=0

say() { printf '[setup] %s\n' "$*" >&2; }

apt_install() {
  if [ "$SUDO" = "__none__" ]; then
    say "missing packages: $* — install them as root (apt-get install $*)"; exit 1
  fi
  if [ "$updated" -eq 0 ]; then
    say "apt-get update"; $SUDO apt-get update -qq; updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

ensure_python() {
  command -v python3 >/dev/null 2>&1 || apt_install python3
  python3 - <<'PY' >/dev/null 2>&1 || apt_install python3-venv python3-pip python3-dev
import ensurepip, venv  # noqa: F401
PY
}

pg_major() {
  if [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    ls /etc/postgresql | sort -V | tail -n 1
  fi
}

ensure_postgres() {
  if [ -z "$(pg_major)" ]; then apt_install postgresql; fi
  local major; major=$(pg_major)
  if [ ! -f "/usr/share/postgresql/$major/extension/postgis.control" ]; then
    apt_install "postgresql-$major-postgis-3"
  fi
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    say "starting PostgreSQL $major"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$major" main start || \
      $SUDO pg_ctlcluster "$major" main start
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' \
      >/dev/null 2>&1; then
    # A fresh cluster refuses password-less TCP logins: give the superuser a known test
    # password so that the tests' default URL (postgres:postgres@127.0.0.1) works.
    say "setting a password for the postgres role (for local tests)"
    $SUDO runuser -u postgres -- psql -q -c "ALTER ROLE postgres PASSWORD 'postgres'"
  fi
}

ensure_browser_and_gdal() {
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v ogrinfo >/dev/null 2>&1 || missing+=(gdal-bin)
  # A CJK font, so that pages in Chromium (and their screenshots) show Chinese, not boxes.
  if ! (command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ]); then
    missing+=(fonts-noto-cjk)
  fi
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
}

ensure_python
if [ "$want" = "test" ] || [ "$want" = "bench" ]; then
  ensure_postgres
  ensure_browser_and_gdal
fi
if [ "$want" = "bench" ] && ! command -v wrk >/dev/null 2>&1; then
  apt_install wrk  # the HTTP load generator of bench/lookup_http.py
fi
