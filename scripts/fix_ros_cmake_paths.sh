#!/usr/bin/env bash
# Rewrite the build-machine paths that the ROS 2 wheels bake into their CMake export files.
#
# The wheels are built in a manylinux image whose interpreter lives in /opt/python/cp311-cp311;
# their *Export.cmake files and ament parent_prefix_path markers name that prefix, its Python
# include dir and numpy's include dir. CMake then fails (missing include dirs) when colcon
# builds a rosidl package against the wheels. Point those paths at this venv instead.
#
# Usage: scripts/fix_ros_cmake_paths.sh VENV_DIR   (idempotent; prints how many files changed)
set -euo pipefail

venv=${1:?usage: fix_ros_cmake_paths.sh VENV_DIR}
py="$venv/bin/python"
[ -x "$py" ] || { echo "fix_ros_cmake_paths: no python at $py" >&2; exit 1; }

wheel_prefix=/opt/python/cp311-cp311
py_include=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
numpy_include=$("$py" -c 'import numpy; print(numpy.get_include())')

dirs=()
for d in "$venv/share" "$venv/lib/cmake"; do [ -d "$d" ] && dirs+=("$d"); done
[ ${#dirs[@]} -gt 0 ] || { echo "fix_ros_cmake_paths: no share/ in $venv: are the ROS wheels installed?" >&2; exit 1; }

mapfile -d '' files < <(grep -rlZ --fixed-strings "$wheel_prefix" "${dirs[@]}" || true)
if [ ${#files[@]} -gt 0 ]; then
    # Most specific first: the include dirs, then the bare prefix (ament parent prefix paths).
    sed -i \
        -e "s#$wheel_prefix/include/python3.11#$py_include#g" \
        -e "s#$wheel_prefix/lib/python3.11/site-packages/numpy/_core/include#$numpy_include#g" \
        -e "s#$wheel_prefix#$venv#g" \
        "${files[@]}"
fi
echo "${#files[@]}"
