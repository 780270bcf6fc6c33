# Enter the rsdfm workspace made by scripts/setup.sh:   source env.sh   (bash or zsh)
#
# Activates .venv (ROS 2 Kilted wheels, torch, the `rsdfm` command), points AMENT_PREFIX_PATH and
# CMAKE_PREFIX_PATH at it (the wheels install their share/ and CMake files into the venv prefix),
# then sources the colcon workspace install/ (rsdfm_msgs and the ROS packages). Afterwards
# `python -c "import rclpy, rsdfm_msgs.msg, rsdfm_core"` works and `rsdfm` is on PATH.
# ROS_DOMAIN_ID is left to the caller on purpose. Safe to source more than once.

if [ -n "${BASH_VERSION:-}" ]; then
    _rsdfm_root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
elif [ -n "${ZSH_VERSION:-}" ]; then
    # shellcheck disable=SC2296
    _rsdfm_root=$(cd "$(dirname "${(%):-%x}")" && pwd)
else
    _rsdfm_root=$(pwd)
fi

_rsdfm_prepend() {  # _rsdfm_prepend VAR DIR: put DIR first in the path list VAR, once
    eval "_rsdfm_cur=\${$1:-}"
    case ":$_rsdfm_cur:" in
        *":$2:"*) ;;
        *) eval "export $1=\"$2\${_rsdfm_cur:+:\$_rsdfm_cur}\"" ;;
    esac
    unset _rsdfm_cur
}

if [ ! -x "$_rsdfm_root/.venv/bin/python" ]; then
    echo "env.sh: no virtual environment in $_rsdfm_root/.venv; run scripts/setup.sh (or make setup) first" >&2
    unset _rsdfm_root
    unset -f _rsdfm_prepend
    return 1 2>/dev/null || exit 1
fi

# colcon's and venv's scripts read unset variables: lift `set -u` while sourcing them.
case $- in *u*) _rsdfm_nounset=1; set +u ;; *) _rsdfm_nounset= ;; esac
# shellcheck disable=SC1091
. "$_rsdfm_root/.venv/bin/activate"
_rsdfm_prepend AMENT_PREFIX_PATH "$_rsdfm_root/.venv"
_rsdfm_prepend CMAKE_PREFIX_PATH "$_rsdfm_root/.venv"
_rsdfm_prepend LD_LIBRARY_PATH "$_rsdfm_root/.venv/lib"

if [ -n "${ZSH_VERSION:-}" ] && [ -f "$_rsdfm_root/install/setup.zsh" ]; then
    . "$_rsdfm_root/install/setup.zsh"
elif [ -f "$_rsdfm_root/install/setup.bash" ]; then
    # shellcheck disable=SC1091
    . "$_rsdfm_root/install/setup.bash"
else
    echo "env.sh: no colcon workspace in $_rsdfm_root/install (rsdfm_msgs missing); run scripts/setup.sh" >&2
fi

if [ -n "$_rsdfm_nounset" ]; then set -u; fi

export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
unset _rsdfm_nounset
unset _rsdfm_root
unset -f _rsdfm_prepend
