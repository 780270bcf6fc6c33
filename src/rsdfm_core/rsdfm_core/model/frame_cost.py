"""What one fleet frame costs the model on this machine, and the map rate its cores carry.

A graph that runs every drone and the ground station on one machine keeps up only while the
model's work per second leaves the cores room for the rest (message conversion, the replay, the
recorder, waiting for a core); past that, queues fill and the latency grows with the run. The
demo measures the cost of one frame here and maps at the highest rate, the camera's halved
until it fits, that keeps the model within `load` of the cores.
"""
from __future__ import annotations

import statistics
import time

from rsdfm_core.model.runtime import DroneEncoder, FusionDecoder, Runtime, TaskHeads
from rsdfm_core.model.tracker import Tracker
from rsdfm_core.model.trajectory import track_detections, TrajectoryPredictor
from rsdfm_core.types import Frame

# share of the cores' time the model may take: measured on 2 cores with 4 drones, the graph kept
# a 170-200 ms latency at 37 % (maps at 5 Hz) and queued for seconds at 75 % (10 Hz)
MODEL_LOAD = 0.5


def fusion_side(fus: FusionDecoder, heads: TaskHeads, tracker: Tracker,
                pred: TrajectoryPredictor, frame: Frame, maps: list) -> None:
    """Do the fusion, detection, segmentation and trajectory nodes' work on one frame's maps."""
    f = fus.fuse(maps)
    dets = track_detections(tracker, frame.stamp_ns, heads.detect(f))
    heads.segment(f)
    pred.predict(frame.stamp_ns, f, dets)


def fleet_frame_cost_ms(rt: Runtime, frame: Frame, repeats: int = 3) -> float:
    """Return the median ms of one frame's model work here: every view's drone side + fusion side.

    One untimed pass first (lazy initialisation); in the caller's torch threads.
    """
    enc, fus = DroneEncoder(rt), FusionDecoder(rt)
    heads = TaskHeads(rt)                # the detection node's default threshold
    tracker, pred = Tracker(), TrajectoryPredictor(rt)
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        maps = [(enc.encode(v.image, v.K, v.cam_to_map), v.agent_id) for v in frame.views]
        fusion_side(fus, heads, tracker, pred, frame, maps)
        if i:
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def carried_map_rate(cost_ms: float, cores: int, camera_hz: float, speed: float = 1.0,
                     load: float = MODEL_LOAD, slowest_hz: float = 0.5) -> float:
    """Return the highest of camera_hz, camera_hz / 2, ... whose model work fits `load` of cores.

    cost_ms: one frame's model work (fleet_frame_cost_ms); speed: the replay's rate (0.25 = a
    quarter of real time, four times the wall time per frame). Halving keeps the mapped stamps
    on a grid of the camera's, so a map rate carries the history lags of the trajectory head
    where the camera rate does. Never below slowest_hz.
    """
    if not cost_ms > 0 or cores < 1 or not camera_hz > 0 or not speed > 0:
        raise ValueError(f'need cost_ms > 0, cores >= 1, camera_hz > 0 and speed > 0, got '
                         f'{cost_ms}, {cores}, {camera_hz}, {speed}')
    rate = camera_hz
    while rate / 2 >= slowest_hz and cost_ms * rate * speed > load * cores * 1000.0:
        rate /= 2
    return rate
