# noqa: A005 (a public module name: rsdfm_core.types is imported across the workspace)
"""Plain data types shared by the world, the bag I/O, the model and the metrics.

Conventions (docs/architecture.md): world frame `map` is ENU, z up, metres; the ground is z = 0.
Camera poses are the pose of the camera *optical* frame (z forward, x right, y down) in `map`.
Times are integer nanoseconds of (simulated) capture time.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LABELS: tuple[str, ...] = ('car', 'truck', 'bus')


@dataclass
class ObjectState:
    """One vehicle at one instant: a 3D box in `map` with a stable track id."""

    track_id: int
    label: str            # one of LABELS
    x: float              # box centre, metres in map
    y: float
    z: float              # centre height (= height / 2 for a vehicle on the ground)
    length: float         # along the heading (box x)
    width: float          # box y
    height: float         # box z
    yaw: float            # heading, radians, counter-clockwise from map +x
    vx: float = 0.0       # velocity in map, m/s
    vy: float = 0.0
    score: float = 1.0    # 1 for ground truth, confidence for detections


@dataclass
class CameraView:
    """What one drone's camera saw at one instant, with exact dense ground truth where known.

    image: (H, W, 3) uint8 RGB.  K: (3, 3) intrinsics.  cam_to_map: (4, 4) pose of the optical
    frame in map.  depth: (H, W) float32 z-depth in the optical frame (metres, inf for sky).
    height: (H, W) float32 height of the hit point above the ground.  instance: (H, W) uint16,
    the track id of the vehicle hit, 0 for anything else.
    """

    agent_id: str
    image: np.ndarray
    K: np.ndarray
    cam_to_map: np.ndarray
    depth: np.ndarray | None = None
    height: np.ndarray | None = None
    instance: np.ndarray | None = None


@dataclass
class Frame:
    """One time step of the fleet: every drone's view and the ground-truth objects."""

    index: int
    stamp_ns: int
    views: list[CameraView]
    objects: list[ObjectState] = field(default_factory=list)


SEQUENCE_GAP_NS = 2_000_000_000    # frames further apart (or out of order) start a new sequence


def continues_sequence(previous: Frame, frame: Frame) -> bool:
    """Tell whether `frame` follows `previous` in one recording (several bags in one list)."""
    return 0 < frame.stamp_ns - previous.stamp_ns <= SEQUENCE_GAP_NS


def objects_to_array(objects: list[ObjectState]) -> np.ndarray:
    """(N, 11) float64 rows: track_id, class index, x, y, z, length, width, height, yaw, vx, vy."""
    if not objects:
        return np.zeros((0, 11))
    return np.array([[o.track_id, LABELS.index(o.label), o.x, o.y, o.z, o.length, o.width,
                      o.height, o.yaw, o.vx, o.vy] for o in objects], dtype=np.float64)
