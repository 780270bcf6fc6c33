"""What the ROS graph published, read back from a recorded bag, and scored against ground truth.

ROS-free (rosbags only): the demo and the end-to-end tests record the graph's outputs with
`rsdfm record` and use this to turn them into the same figures `rsdfm evaluate` computes
offline (AP, ADE, bytes per drone per frame, latency), matching outputs to ground-truth
frames by capture stamp (minus the replay's restamp offset).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rosbags.highlevel import AnyReader

from rsdfm_core.bag import make_typestore
from rsdfm_core.geometry import BevGrid
from rsdfm_core.messages import (
    detections_to_objects,
    fields_to_grid,
    occupancy_to_mask,
    stamp_to_ns,
)
from rsdfm_core.model.runtime import fused_from_payload
from rsdfm_core.types import ObjectState


@dataclass
class Recorded:
    """Graph outputs by capture stamp (ns, as published)."""

    detections: dict[int, list[ObjectState]] = field(default_factory=dict)
    trajectories: dict[int, list[tuple[int, str, np.ndarray]]] = field(
        default_factory=dict
    )  # (track, label, (k,3))
    fused_agents: dict[int, list[str]] = field(default_factory=dict)
    fused: dict[int, np.ndarray] = field(default_factory=dict)  # (C, R, W) float16 features
    fused_grid: BevGrid | None = None
    feature_bytes: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(dict)
    )  # agent -> stamp -> bytes
    feature_raw_bytes: dict[str, int] = field(default_factory=dict)  # agent -> float32 map size
    segmentation: dict[int, np.ndarray] = field(default_factory=dict)  # (rows, cols) uint8 0/1
    instances: dict[int, np.ndarray] = field(default_factory=dict)  # (rows, cols) uint16 ids
    diagnostics: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # node -> newest key/values
    ground_truth: dict[int, list[ObjectState]] = field(default_factory=dict)
    receive_ns: dict[int, int] = field(default_factory=dict)  # detections: stamp -> bag log time
    fused_receive_ns: dict[int, int] = field(default_factory=dict)  # fused maps: stamp -> log time


def read_recorded(path: str | Path) -> Recorded:
    """Everything the demo and tests look at in a bag recorded from the graph."""
    out = Recorded()
    with AnyReader([Path(path)], default_typestore=make_typestore()) as reader:
        for conn, t_ns, raw in reader.messages():
            topic = conn.topic
            if topic.endswith(
                '/rsdfm/bev_feature'
            ):  # sizes only: skip deserialising payloads twice
                msg = reader.deserialize(raw, conn.msgtype)
                out.feature_bytes[msg.agent_id][stamp_to_ns(msg.header.stamp)] = len(msg.payload)
                out.feature_raw_bytes[msg.agent_id] = int(msg.raw_bytes)
                continue
            if topic not in (
                '/rsdfm/detections',
                '/rsdfm/trajectories',
                '/rsdfm/fused_bev',
                '/rsdfm/segmentation',
                '/rsdfm/instances',
                '/diagnostics',
                '/ground_truth/objects',
            ):
                continue
            msg = reader.deserialize(raw, conn.msgtype)
            if topic == '/diagnostics':
                for status in msg.status:
                    out.diagnostics[status.name] = {kv.key: kv.value for kv in status.values}
                continue
            stamp = stamp_to_ns(msg.header.stamp)
            if topic == '/rsdfm/detections':
                out.detections[stamp] = detections_to_objects(msg)
                out.receive_ns[stamp] = t_ns
            elif topic == '/ground_truth/objects':
                out.ground_truth[stamp] = detections_to_objects(msg)
            elif topic == '/rsdfm/trajectories':
                out.trajectories[stamp] = [
                    (
                        int(tr.track_id),
                        str(tr.label),
                        np.array([[p.x, p.y, p.z] for p in tr.points]).reshape(-1, 3),
                    )
                    for tr in msg.trajectories
                ]
            elif topic == '/rsdfm/fused_bev':
                fused = fused_from_payload(
                    fields_to_grid(msg), int(msg.channels), bytes(msg.payload), list(msg.agents)
                )
                out.fused_agents[stamp], out.fused_grid, out.fused[stamp] = (
                    fused.agents,
                    fused.grid,
                    fused.features,
                )
                out.fused_receive_ns[stamp] = t_ns
            elif topic == '/rsdfm/instances':
                out.instances[stamp] = (
                    np.frombuffer(bytes(msg.data), '<u2').reshape(msg.height, msg.width).copy()
                )
            elif topic == '/rsdfm/segmentation':
                out.segmentation[stamp] = occupancy_to_mask(msg)
    return out


def shift_stamps(by_stamp: dict[int, object], offset_ns: int) -> dict[int, object]:
    """Return the same mapping with every stamp moved by -offset_ns (undoing replay --restamp)."""
    return {s - int(offset_ns): v for s, v in by_stamp.items()}


def bytes_per_agent_frame(rec: Recorded) -> float:
    """Mean BevFeature payload bytes per drone per frame."""
    sizes = [n for per in rec.feature_bytes.values() for n in per.values()]
    return float(np.mean(sizes)) if sizes else float('nan')


def latency_ms(rec: Recorded, sent_at: dict[int, int] | None = None, offset_ns: int = 0) -> float:
    """Median end-to-end latency in ms, from the image stamps to the detections recorded.

    Detections recorded minus image stamp, or minus the wall time the frame's images were
    published (sent_at: bag stamp -> wall ns; needed when replaying slower than real time, where
    restamped stamps run ahead of the wall clock).
    """
    if sent_at:
        lat = [rec.receive_ns[s] - sent_at[s - offset_ns] for s in rec.detections
               if s in rec.receive_ns and s - offset_ns in sent_at]
    else:
        lat = [rec.receive_ns[s] - s for s in rec.detections if s in rec.receive_ns]
    return float(np.median(lat)) / 1e6 if lat else float('nan')
