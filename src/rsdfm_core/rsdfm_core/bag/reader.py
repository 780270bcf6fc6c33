"""Read Frames from a rosbag2 directory written by write_bag (or any bag with the same topics).

Before reading, the bag's topics are checked: every drone needs its image, camera info and pose
topics with the expected message types. A missing topic, a topic of an unknown or unexpected
type, a cut file or an unreadable message raises BagError naming the file and the problem; with
skip_bad=True the bad drone, message or frame is left out (said on stderr) and the rest is read.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from .source import BagError, BagSource, SKIP_HINT, warn_stderr
from .topics import (
    agent_sort_key,
    COMPRESSED_TYPE,
    DENSE_TOPICS,
    DEPTH,
    DRONE_TOPICS,
    HEIGHT,
    IMAGE,
    IMAGE_COMPRESSED,
    INFO,
    INSTANCES,
    OBJECTS_TOPIC,
    OBJECTS_TYPE,
    POSE,
    split_drone_topic,
)
from .typestore import make_typestore
from .. import messages
from ..camera import undistort
from ..types import CameraView, Frame


def usable_topics(source: BagSource, require_ground_truth: bool = False) -> set[str]:
    """Return the drone and ground-truth topics of the bag that read_frames can use.

    Missing topics and unexpected message types raise BagError (or, with skip_bad, give a
    warning and the drone is left out).
    """
    bag = source.path
    if require_ground_truth and source.topics.get(OBJECTS_TOPIC) != OBJECTS_TYPE:
        found = source.topics.get(OBJECTS_TOPIC)
        raise BagError(f'{bag}: topic {OBJECTS_TOPIC} ({OBJECTS_TYPE}) with the ground truth is '
                       + (f'of type {found}' if found else 'missing'))
    by_agent: dict[str, dict[str, str]] = {}
    for topic, msgtype in source.topics.items():
        split = split_drone_topic(topic)
        if split:
            by_agent.setdefault(split[0], {})[split[1]] = msgtype
    if not by_agent:
        raise BagError(f'{bag}: no drone camera topics (/<drone>/{IMAGE}, {INFO}, {POSE}); '
                       f'it has {sorted(source.topics)[:10]}')
    usable = {OBJECTS_TOPIC} if source.topics.get(OBJECTS_TOPIC) == OBJECTS_TYPE else set()
    expected = {**DRONE_TOPICS, **DENSE_TOPICS, IMAGE_COMPRESSED: COMPRESSED_TYPE}
    for agent, leaves in sorted(by_agent.items()):
        if IMAGE in leaves:                  # raw and compressed streams: the raw one is read
            leaves.pop(IMAGE_COMPRESSED, None)
        needed = [INFO, POSE, IMAGE if IMAGE_COMPRESSED not in leaves else IMAGE_COMPRESSED]
        problems = [f'topic /{agent}/{leaf} is missing' for leaf in needed if leaf not in leaves]
        problems += [f'topic /{agent}/{leaf} has message type {t}, expected {expected[leaf]}'
                     for leaf, t in leaves.items() if t != expected[leaf]]
        if problems:
            if not source.skip_bad:
                raise BagError(f'{bag}: {"; ".join(problems)}; {SKIP_HINT}')
            source.warn(f'{bag}: {"; ".join(problems)}; leaving drone {agent} out (--skip-bad)')
            continue
        usable |= {f'/{agent}/{leaf}' for leaf in leaves}
    if usable <= {OBJECTS_TOPIC}:
        raise BagError(f'{bag}: no drone has all of {", ".join(DRONE_TOPICS)}')
    return usable


def _assemble(
    index: int, stamp: int, parts: dict[str, dict], objects, source: BagSource
) -> Frame | None:
    views = []
    for agent in sorted(parts, key=agent_sort_key):
        p = parts[agent]
        missing = [leaf for leaf in (IMAGE, INFO, POSE) if leaf not in p]
        if missing:
            problem = (f'{source.path}: frame at stamp {stamp} ns: '
                       f'/{agent} has no {", ".join(missing)} message')
            if not source.skip_bad:
                raise BagError(f'{problem}; {SKIP_HINT}')
            source.warn(f'{problem}; leaving that view out (--skip-bad)')
            continue
        camera = p[INFO]
        try:
            image = undistort(p[IMAGE], camera)        # the model sees pinhole images of K
        except ValueError as exc:
            problem = f'{source.path}: frame at stamp {stamp} ns: /{agent}: {exc}'
            if not source.skip_bad:
                raise BagError(f'{problem}; {SKIP_HINT}') from None
            source.warn(f'{problem}; leaving that view out (--skip-bad)')
            continue
        views.append(CameraView(agent, image, camera.matrix, p[POSE], p.get(DEPTH), p.get(HEIGHT),
                                p.get(INSTANCES)))
    if not views:
        return None
    return Frame(index, stamp, views, objects if objects is not None else [])


def read_frames(bag_dir: str | Path, skip_bad: bool = False, require_ground_truth: bool = False,
                warn: Callable[[str], None] = warn_stderr) -> Iterator[Frame]:
    """Yield one Frame per capture stamp, in time order; frame indices count from 0.

    Messages are grouped by header stamp, so drones of one frame must share it (as the simulator
    writes).
    skip_bad: leave out what cannot be read (cut file, bad message, incomplete view) instead of
    raising.
    """
    source = BagSource(bag_dir, skip_bad=skip_bad, warn=warn)
    ts = make_typestore()
    stamp, parts, objects, index = None, {}, None, 0
    for m in source.messages(usable_topics(source, require_ground_truth)):
        try:
            msg = ts.deserialize_cdr(m.data, m.msgtype)
            ns = messages.stamp_to_ns(msg.header.stamp)
        except Exception as exc:  # noqa: BLE001 - corrupt CDR raises several kinds
            problem = (
                f'{source.path}: message on {m.topic} at {m.log_time} ns cannot be decoded ({exc})'
            )
            if not skip_bad:
                raise BagError(f'{problem}; {SKIP_HINT}') from None
            warn(f'{problem}; skipped (--skip-bad)')
            continue
        if stamp is not None and ns != stamp:
            frame = _assemble(index, stamp, parts, objects, source)
            if frame is not None:
                yield frame
                index += 1
            parts, objects = {}, None
        stamp = ns
        agent, leaf = (None, None) if m.topic == OBJECTS_TOPIC else split_drone_topic(m.topic)
        slot = parts.setdefault(agent, {}) if agent else {}
        try:
            if m.topic == OBJECTS_TOPIC:
                objects = messages.detections_to_objects(msg)
            elif leaf == INFO:
                slot[leaf] = messages.camera_model(msg)
            elif leaf == POSE:
                slot[leaf] = messages.pose_to_matrix(msg.pose)
            elif leaf == IMAGE_COMPRESSED:
                slot[IMAGE] = messages.compressed_to_rgb(msg)
            elif leaf == IMAGE:
                slot[leaf] = messages.image_to_rgb(msg)
            else:
                slot[leaf] = messages.image_to_array(msg)
        except ValueError as exc:
            problem = f'{source.path}: message on {m.topic} at stamp {ns} ns: {exc}'
            if not skip_bad:
                raise BagError(f'{problem}; {SKIP_HINT}') from None
            warn(f'{problem}; skipped (--skip-bad)')
    if stamp is not None:
        frame = _assemble(index, stamp, parts, objects, source)
        if frame is not None:
            yield frame
