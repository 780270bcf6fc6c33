"""Write Frames to a rosbag2 directory (MCAP storage, metadata.yaml) with `rosbags`.

Header stamps and bag log times are both the simulated capture time, so a bag replays in sim time.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

from ..types import Frame
from . import convert
from .topics import (DENSE_TOPICS, DEPTH, DRONE_TOPICS, HEIGHT, IMAGE, INFO, INSTANCES, OBJECTS_TOPIC, OBJECTS_TYPE,
                     POSE, camera_frame, drone_topic)
from .typestore import make_typestore


def write_bag(out_dir: str | Path, frames: Iterable[Frame], progress: bool = False, total: int | None = None,
              compress: bool = True) -> Path:
    """Write every frame; returns the bag directory. out_dir must not exist yet (rosbag2 creates it).

    Dense ground truth topics are written for views that carry depth/height/instance images.
    compress: zstd-compressed MCAP chunks (standard MCAP, read by rosbag2, rosbags and mcap alike);
    about 3.5x smaller and faster to write than raw chunks.
    """
    out = Path(out_dir)
    if out.exists():
        raise FileExistsError(f'bag directory {out} already exists')
    ts = make_typestore()
    conns: dict[str, object] = {}
    writer = Writer(out, version=9, storage_plugin=StoragePlugin.MCAP)
    if compress:
        writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    with writer:
        def put(topic: str, msgtype: str, msg, ns: int) -> None:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=ts)
            writer.write(conns[topic], ns, bytes(ts.serialize_cdr(msg, msgtype)))

        count = 0
        for frame in frames:
            ns = int(frame.stamp_ns)
            for view in frame.views:
                a, fid = view.agent_id, camera_frame(view.agent_id)
                h, w = view.image.shape[:2]
                put(drone_topic(a, IMAGE), DRONE_TOPICS[IMAGE], convert.image_to_msg(view.image, ns, fid, 'rgb8', ts), ns)
                put(drone_topic(a, INFO), DRONE_TOPICS[INFO], convert.camera_info_to_msg(view.K, w, h, ns, fid, ts), ns)
                put(drone_topic(a, POSE), DRONE_TOPICS[POSE], convert.pose_stamped_to_msg(view.cam_to_map, ns, 'map', ts), ns)
                for leaf, arr, enc in ((DEPTH, view.depth, '32FC1'), (HEIGHT, view.height, '32FC1'),
                                       (INSTANCES, view.instance, 'mono16')):
                    if arr is not None:
                        put(drone_topic(a, leaf), DENSE_TOPICS[leaf], convert.image_to_msg(arr, ns, fid, enc, ts), ns)
            put(OBJECTS_TOPIC, OBJECTS_TYPE, convert.objects_to_msg(frame.objects, ns, 'map', ts), ns)
            count += 1
            if progress:
                of = f'/{total}' if total else ''
                print(f'\rwrote {count}{of} frames to {out}', end='', file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
    return out
