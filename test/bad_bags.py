"""Damaged bags for the bag-error tests: cut short, missing a topic, with unknown message types.

Made from a small simulated bag with rosbags (copying raw messages), so they are real rosbag2
directories that any reader opens the same way.
"""
from __future__ import annotations

from pathlib import Path
import shutil

import numpy as np

UNKNOWN_TYPE = 'foo_msgs/msg/Blob'


def small_bag(out: Path, drones: int = 2, frames: int = 6) -> Path:
    from rsdfm_core.bag import write_bag
    from rsdfm_core.world.config import WorldConfig
    from rsdfm_core.world.simulator import Simulator

    cfg = WorldConfig(seed=3, drones=drones, dense_gt=False, width=160, height=120)
    return write_bag(out, Simulator(cfg).frames(frames))


def mcap_of(bag: Path) -> Path:
    return next(bag.glob('*.mcap'))


def cut_bag(src: Path, out: Path, fraction: float = 0.6) -> Path:
    """Copy the bag with its MCAP file cut at `fraction` of its bytes (no summary, no footer)."""
    shutil.copytree(src, out)
    f = mcap_of(out)
    size = f.stat().st_size
    with f.open('r+b') as fh:
        fh.truncate(int(size * fraction))
    return out


def rewrite_bag(src: Path, out: Path, drop_topics=(), retype: dict[str, str] | None = None,
                extra_unknown_topic: str | None = None) -> Path:
    """Copy the bag without `drop_topics`, writing the topics of `retype` as an unknown type.

    The unknown type is foo_msgs/msg/Blob; optionally one more topic of that type is added.
    """
    from rosbags.rosbag2 import Reader, StoragePlugin, Writer
    from rosbags.typesys import get_types_from_msg

    from rsdfm_core.bag import make_typestore

    store = make_typestore()      # the foreign type is added to this process's store (tests only)
    if UNKNOWN_TYPE not in store.types:
        store.register(get_types_from_msg('uint8[] data', UNKNOWN_TYPE))
    Blob = store.types[UNKNOWN_TYPE]
    blob = bytes(store.serialize_cdr(Blob(data=np.zeros(8, np.uint8)), UNKNOWN_TYPE))
    retype = retype or {}
    conns = {}
    with (
        Reader(src) as reader,
        Writer(out, version=9, storage_plugin=StoragePlugin.MCAP) as writer,
    ):
        for conn, t, raw in reader.messages():
            if conn.topic in drop_topics:
                continue
            msgtype = UNKNOWN_TYPE if conn.topic in retype else conn.msgtype
            if conn.topic not in conns:
                conns[conn.topic] = writer.add_connection(conn.topic, msgtype, typestore=store)
            writer.write(conns[conn.topic], t, blob if conn.topic in retype else raw)
            if extra_unknown_topic:
                if extra_unknown_topic not in conns:
                    conns[extra_unknown_topic] = writer.add_connection(
                        extra_unknown_topic, UNKNOWN_TYPE, typestore=store
                    )
                writer.write(conns[extra_unknown_topic], t, blob)
    return out
