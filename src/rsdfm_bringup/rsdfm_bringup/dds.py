"""DDS settings for running the graph on one machine: Fast DDS with large shared-memory segments.

Camera images (about 1 MB) do not fit Fast DDS's default 512 KB shared-memory segment and fall
back to fragmented UDP, whose reliable repairs wait for heartbeats: seconds of latency and images
refused for late poses on a loaded machine. config/fastdds.xml fixes that; the tools use it unless
the user chose a profile file (or another middleware) themselves.
"""
from __future__ import annotations

import os
from typing import Mapping, MutableMapping

from rsdfm_core.graph import config_dir, GraphError

PROFILE_VARS = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')


def use_rsdfm_dds_profile(env: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
    """Point Fast DDS at config/fastdds.xml in `env` (default os.environ) if no profile is set.

    Must run before rclpy.init() in this process to affect it; child processes inherit it via env.
    """
    env = os.environ if env is None else env
    if env.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp') != 'rmw_fastrtps_cpp':
        return env
    if any(env.get(v) for v in PROFILE_VARS):
        return env
    try:
        profile = config_dir() / 'fastdds.xml'
    except GraphError:
        return env
    if profile.is_file():
        env['FASTDDS_DEFAULT_PROFILES_FILE'] = str(profile)
    return env


def rsdfm_dds_variables(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the variables use_rsdfm_dds_profile adds to `env` (default os.environ), as a dict.

    For starters that give their processes extra variables rather than a whole environment: the
    launch file passes this as every node's additional_env, as the runner's node_environment
    does through use_rsdfm_dds_profile, so both start paths use the same profile.
    """
    base = dict(os.environ if env is None else env)
    added = use_rsdfm_dds_profile(dict(base))
    return {key: value for key, value in added.items() if base.get(key) != value}
