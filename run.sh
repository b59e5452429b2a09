#!/usr/bin/env bash
# One entry point for everything a developer or CI does. Each command installs what it needs.
#   ./run.sh demo        example flows on the embedded default (local storage + SQLite + Prefect's
#                        temporary server), then prints where to look
#   ./run.sh test [ARGS] lint (ruff) + types (mypy) + the test suite (extra ARGS go to pytest;
#                        -m "not slow": the quick loop, see CONTRIBUTING.md)
#   ./run.sh bench       the benchmarks in benchmarks/ (ratios against bare baselines)
#   ./run.sh ui          the browser UI on http://127.0.0.1:4300
#   ./run.sh docs [serve] build the documentation site into site/ (mkdocs --strict, offline), or
#                        serve it with live reload on http://127.0.0.1:8000
set -euo pipefail
cd "$(dirname "$0")"
# Python caches the package's bytecode and pytest its rewritten test modules (each process of
# the suite compiled them again otherwise); the timed imports of the benchmarks read the cache
unset PYTHONDONTWRITEBYTECODE
UV_VERSION=0.13.9

venv() {
  local stamp=.venv/.installed
  if [[ ! -x .venv/bin/python || ! -f $stamp || pyproject.toml -nt $stamp || constraints.txt -nt $stamp ]]; then
    echo "==> installing into .venv (pinned by constraints.txt)"
    [[ -x .venv/bin/python ]] || python3 -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
    # --compile-bytecode: every process the suite starts (Prefect servers, workers, CLI children)
    # imports Prefect; without .pyc files (uv writes none by default, and PYTHONDONTWRITEBYTECODE
    # keeps Python from writing them) each one compiles it anew: `import prefect` 4.6 s, not 1.2 s
    .venv/bin/uv pip install -q --python .venv/bin/python -c constraints.txt --compile-bytecode -e ".[dev]"
    touch "$stamp"
  fi
}

browser() {  # Debian's Chromium for the browser tests; nothing downloads a browser at run time
  if [[ ! -x /usr/bin/chromium ]]; then
    echo "==> installing Debian's chromium (apt-get)"
    local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  fi
}

postgres() {  # the machine's PostgreSQL; start it if it is installed but stopped
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
    echo "==> starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  fi
}

case "${1:-}" in
  demo)
    venv
    exec .venv/bin/python flows/demo.py
    ;;
  test)
    shift
    venv
    echo "==> ruff"
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    browser
    postgres
    # mypy (configured in pyproject.toml: the package, strict on core/) runs beside pytest, whose
    # workers often wait on servers and subprocesses; its report follows pytest's
    typed=$(mktemp)
    .venv/bin/mypy >"$typed" 2>&1 &
    mypy_pid=$!
    trap 'kill "$mypy_pid" 2>/dev/null || true; rm -f "$typed"' EXIT  # pytest interrupted: no stray mypy
    # 3 workers on 2 cores: a third of the suite's time is spent waiting on other processes
    echo "==> pytest (${PA_TEST_WORKERS:-3} workers; PA_TEST_WORKERS=0 runs in one process)"
    status=0
    workers=()
    [[ ${PA_TEST_WORKERS:-3} == 0 ]] || workers=(-n "${PA_TEST_WORKERS:-3}" --dist loadfile --no-loadscope-reorder)
    .venv/bin/python -m pytest "${workers[@]}" "$@" || status=$?
    echo "==> mypy"
    mypy_status=0
    wait "$mypy_pid" || mypy_status=$?
    cat "$typed"
    if [[ $status -eq 5 ]]; then
      echo "pytest collected no tests: failing" >&2
      exit 1
    fi
    [[ $status -ne 0 ]] || status=$mypy_status
    exit $status
    ;;
  bench)
    shift
    venv
    postgres
    exec .venv/bin/python benchmarks/run.py "$@"
    ;;
  ui)
    shift
    venv
    exec .venv/bin/prefect-artifacts ui "$@"
    ;;
  docs)
    shift
    venv
    export NO_MKDOCS_2_WARNING=1
    if [[ ${1:-} == serve ]]; then
      shift
      exec .venv/bin/mkdocs serve --strict "$@"
    fi
    exec .venv/bin/mkdocs build --strict "$@"
    ;;
  *)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
