"""A rosbags typestore for ROS 2 Kilted with the rsdfm_msgs types registered from their .msg files.

The .msg files are found in an installed workspace ($AMENT_PREFIX_PATH/*/share/rsdfm_msgs/msg) or,
in a source checkout, beside this package (src/rsdfm_msgs/msg).
"""
from __future__ import annotations

from functools import lru_cache
import os
from pathlib import Path

from rosbags.typesys import get_types_from_msg, get_typestore, Stores
from rosbags.typesys.store import Typestore

PACKAGE = 'rsdfm_msgs'


def find_msg_dir() -> Path:
    """Directory holding rsdfm_msgs/msg/*.msg; FileNotFoundError naming the places looked in."""
    tried = []
    for prefix in filter(None, os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)):
        candidate = Path(prefix) / 'share' / PACKAGE / 'msg'
        tried.append(candidate)
        if any(candidate.glob('*.msg')):
            return candidate
    candidate = Path(__file__).resolve().parents[3] / PACKAGE / 'msg'
    tried.append(candidate)
    if any(candidate.glob('*.msg')):
        return candidate
    raise FileNotFoundError(
        'cannot find the rsdfm_msgs .msg files; looked in: ' + ', '.join(map(str, tried))
    )


@lru_cache(maxsize=1)
def make_typestore() -> Typestore:
    """Return Kilted's typestore plus every rsdfm_msgs message (cached: built once per process)."""
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for path in sorted(find_msg_dir().glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'{PACKAGE}/msg/{path.stem}'))
    store.register(types)
    return store
