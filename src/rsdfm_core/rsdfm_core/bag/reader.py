"""Read Frames back from a rosbag2 directory written by write_bag (or any bag with the same topics)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rosbags.rosbag2 import Reader

from ..types import CameraView, Frame
from . import convert
from .topics import (DEPTH, HEIGHT, IMAGE, INFO, INSTANCES, OBJECTS_TOPIC, POSE, agent_sort_key,
                     split_drone_topic)
from .typestore import make_typestore


def _assemble(index: int, stamp: int, parts: dict[str, dict], objects) -> Frame:
    views = []
    for agent in sorted(parts, key=agent_sort_key):
        p = parts[agent]
        missing = [leaf for leaf in (IMAGE, INFO, POSE) if leaf not in p]
        if missing:
            raise ValueError(f'frame at stamp {stamp} ns: /{agent} has no {", ".join(missing)} message')
        views.append(CameraView(agent, p[IMAGE], p[INFO], p[POSE], p.get(DEPTH), p.get(HEIGHT), p.get(INSTANCES)))
    return Frame(index, stamp, views, objects if objects is not None else [])


def read_frames(bag_dir: str | Path) -> Iterator[Frame]:
    """Yield one Frame per capture stamp, in time order; frame indices count from 0.

    Messages are grouped by header stamp, so drones of one frame must share it (as the simulator writes).
    """
    path = Path(bag_dir)
    if not (path / 'metadata.yaml').is_file():
        raise FileNotFoundError(f'{path} is not a rosbag2 directory (no metadata.yaml)')
    ts = make_typestore()
    with Reader(path) as reader:
        wanted = [c for c in reader.connections if c.topic == OBJECTS_TOPIC or split_drone_topic(c.topic)]
        stamp, parts, objects, index = None, {}, None, 0
        for conn, _, raw in reader.messages(connections=wanted):
            msg = ts.deserialize_cdr(raw, conn.msgtype)
            ns = convert.stamp_to_ns(msg.header.stamp)
            if stamp is not None and ns != stamp:
                yield _assemble(index, stamp, parts, objects)
                parts, objects, index = {}, None, index + 1
            stamp = ns
            if conn.topic == OBJECTS_TOPIC:
                objects = convert.msg_to_objects(msg)
                continue
            agent, leaf = split_drone_topic(conn.topic)
            slot = parts.setdefault(agent, {})
            if leaf == INFO:
                slot[leaf] = convert.msg_to_K(msg)
            elif leaf == POSE:
                slot[leaf] = convert.msg_to_matrix(msg.pose)
            else:
                slot[leaf] = convert.msg_to_image(msg)
        if stamp is not None:
            yield _assemble(index, stamp, parts, objects)
