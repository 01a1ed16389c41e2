#!/usr/bin/env bash
# One entry point for people and CI:  ./dev.sh demo   |   ./dev.sh test   |   ./dev.sh quick
# Each sets up what it needs (a .venv with bankscore[all] and the dev tools, system tools from apt-get)
# and then runs. Setup is skipped when pyproject.toml has not changed since the last one.
set -euo pipefail
cd "$(dirname "$0")"

VENV=${BANKSCORE_VENV:-.venv}
PYTHON=${PYTHON:-python3}
# System tools used for real: nginx (the key-checking gateway in front of the inference server) and
# Apache Bench (ab) for side-by-side load tests; Chromium opens the Swagger UI page and the bench's HTML report
# in the browser tests.
SYSTEM_PACKAGES=(nginx-light apache2-utils chromium)
SYSTEM_COMMANDS=(nginx ab chromium)

apt_install() {
    local missing=()
    for i in "${!SYSTEM_COMMANDS[@]}"; do
        command -v "${SYSTEM_COMMANDS[$i]}" >/dev/null 2>&1 || [ -x "/usr/sbin/${SYSTEM_COMMANDS[$i]}" ] \
            || missing+=("${SYSTEM_PACKAGES[$i]}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "==> apt-get install ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

setup() {
    local stamp="$VENV/.bankscore-setup"
    local want
    want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    echo "==> creating $VENV and installing bankscore[all] with the dev tools"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -qq --upgrade "pip>=25.1"  # 25.1 brought --group; -qq: errors only
    "$VENV/bin/python" -m pip install -qq -e ".[all]" --group dev
    echo "$want" > "$stamp"
}

# pytest, where "no test selected" (exit 5: a path given to ./dev.sh test holds none of one phase) is no failure.
run_pytest() {
    local code=0
    "$VENV/bin/pytest" "$@" || code=$?
    [ "$code" -eq 5 ] && return 0
    return "$code"
}

case "${1:-}" in
    demo)
        apt_install || echo "==> could not install nginx: the demo serves without keys" >&2
        setup
        exec "$VENV/bin/bankscore" demo "${@:2}"
        ;;
    test|quick)
        apt_install
        setup
        echo "==> ruff";   "$VENV/bin/ruff" check . && "$VENV/bin/ruff" format --check .
        echo "==> mypy";   "$VENV/bin/mypy"
        echo "==> import contracts"; "$VENV/bin/lint-imports" --no-cache --no-logo
        # The shared research folder beside the clone (CI has it) lets a few tests compare against the real
        # Azure swagger files and the inference server's probe answers; without it those tests skip.
        if [ -d ../shared/azure ]; then
            export BANKSCORE_SWAGGER_SAMPLES="$(cd ../shared/azure && pwd)/swagger-samples"
            export BANKSCORE_PROBE_RESULTS="$(cd ../shared/azure && pwd)/probe-results.json"
            # Microsoft's no-code MLflow scoring script (run unmodified as the generation-D oracle) and its captures.
            export BANKSCORE_MLFLOW_NO_CODE="$(cd ../shared/azure && pwd)/mlflow-no-code"
            export BANKSCORE_GEN_D_WIRE="$(cd ../shared/azure && pwd)/gen-d-wire"
        fi
        if [ "$1" = quick ]; then  # the fast tests only, for your own loop
            echo "==> pytest (fast tests, on every core)"; exec "$VENV/bin/pytest" -m "not slow" -n auto "${@:2}"
        fi
        # test (CI): everything. The fast tests spread over the cores one by one; then the slow end-to-end ones,
        # a whole test file (or the files sharing the session's deployments) per worker, the longest first
        # (tests/conftest.py groups and orders them): each starts servers, trains or builds venvs once per worker.
        status=0
        echo "==> pytest (fast tests, on every core)"
        # --durations: every run's log says where the time went (the slowest tests of each phase).
        run_pytest -m "not slow" -n auto --durations=15 "${@:2}" || status=$?
        echo "==> pytest (slow end-to-end tests, a file per worker)"
        run_pytest -m slow -n auto --maxprocesses 4 --dist loadgroup --no-loadscope-reorder --durations=40 \
            "${@:2}" || status=$?
        exit "$status"
        ;;
    *)
        echo "usage: ./dev.sh demo | ./dev.sh test [PYTEST-ARGS] | ./dev.sh quick [PYTEST-ARGS]" >&2
        exit 2
        ;;
esac
