"""Future positions of already tracked objects: from the fused map (learned) or velocity (cv).

The predictor runs no tracker of its own: the objects come with track ids and velocities from
the one tracker of the graph (detection_node's, through `track_detections`, which offline
evaluation calls the same way), so a trajectory carries the id of the detection it belongs to.
Objects with track_id 0 are not tracked and get no trajectory.

    tracker = Tracker(min_score=0.3)
    dets = track_detections(tracker, stamp_ns, TaskHeads(rt).detect(f))
    paths = TrajectoryPredictor(rt).predict(stamp_ns, f, dets)      # [(state, (6, 3) points)]
"""
from __future__ import annotations

from collections import deque
import math

import numpy as np
import torch
import torch.nn.functional as F

from rsdfm_core.model.heads import TRAJ_SCALE
from rsdfm_core.model.runtime import FusedMap, Runtime
from rsdfm_core.model.tracker import constant_velocity, Tracker
from rsdfm_core.types import ObjectState

MODES = ('learned', 'cv')


def track_detections(tracker: Tracker, stamp_ns: int,
                     objects: list[ObjectState]) -> list[ObjectState]:
    """Give objects their track ids and velocities, in place.

    The tracked ones (score >= tracker.min_score) get their track id and the track's velocity,
    the others track_id 0 and the head's velocity.

    detection_node publishes these on rsdfm/detections, and offline evaluation makes them the
    same way. A box is told apart by label, centre and score: boxes of different classes can
    share a centre (one peak cell), so the centre alone would give them one id.
    """
    tracks = {_box_key(t.state): t.state for t in tracker.update(stamp_ns * 1e-9, objects)}
    for o in objects:
        state = tracks.get(_box_key(o))
        if state is None:
            o.track_id = 0
        else:
            o.track_id, o.vx, o.vy = state.track_id, state.vx, state.vy
    return objects


def _box_key(o: ObjectState) -> tuple:
    return o.label, o.x, o.y, o.score


class TrajectoryPredictor:
    """Predicts `future_steps` positions (`future_dt` apart) per tracked object.

    mode 'learned' reads the trajectory head over the current and past fused maps (past maps
    picked by stamp at the configured lags); 'cv' is the constant-velocity baseline, which
    needs no map.
    """

    def __init__(self, rt: Runtime, mode: str = 'learned'):
        if mode not in MODES:
            raise ValueError(f"trajectory mode must be 'learned' or 'cv', got {mode!r}")
        self.rt, self.mode = rt, mode
        self.lags = list(rt.config['model']['history_lags_s'])
        self.steps = int(rt.config['model']['future_steps'])
        self.dt = float(rt.config['model']['future_dt'])
        self.history: deque[tuple[float, np.ndarray]] = deque(maxlen=64)

    def _past(self, t: float, features: np.ndarray) -> list[np.ndarray]:
        out = []
        for lag in self.lags:
            cands = [(abs(s - (t - lag)), feat) for s, feat in self.history]
            out.append(min(cands, key=lambda c: c[0])[1] if cands else features)
        return out

    @torch.no_grad()
    def offsets(self, t: float, f: FusedMap) -> torch.Tensor:
        """Return the (2 * steps, R, W) predicted future offsets over the region.

        Offsets are in metres, in the grid frame.
        """
        # numpy's float16 -> float32 takes 3 ms a map here, torch's 0.1 ms
        stack = np.concatenate([f.features] + self._past(t, f.features), 0)
        x = torch.from_numpy(stack).float()[None].to(self.rt.device)
        return self.rt.net.traj_head(x)[0].cpu() * TRAJ_SCALE

    def learned(self, t: float, f: FusedMap, objects: list[ObjectState]) -> list[np.ndarray]:
        """Return the (steps, 3) future centres of each object from the trajectory head.

        The head is read at the object's cell.
        """
        off = self.offsets(t, f)
        cr = f.grid.map_to_cells(np.array([[o.x, o.y] for o in objects]))
        g = np.stack([2 * cr[:, 0] / f.grid.cols - 1, 2 * cr[:, 1] / f.grid.rows - 1], 1)
        g = torch.tensor(g, dtype=torch.float32)[None, None]
        vals = F.grid_sample(off[None], g, align_corners=False)[0, :, 0].T.numpy()  # (n, 2 steps)
        c, s = math.cos(f.grid.yaw), math.sin(f.grid.yaw)
        out = []
        for o, v in zip(objects, vals):
            d = v.reshape(self.steps, 2)
            dx, dy = c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]
            out.append(np.stack([o.x + dx, o.y + dy, np.full(self.steps, o.z)], 1))
        return out

    def predict(self, stamp_ns: int, f: FusedMap | None,
                objects: list[ObjectState]) -> list[tuple[ObjectState, np.ndarray]]:
        """[(object, (steps, 3) future centres)] for the tracked objects, by track id.

        f is the fused map the objects were detected on (None only in 'cv' mode); every map
        given is kept as history for the learned head, also when nothing is tracked.
        """
        if self.mode == 'learned' and f is None:
            raise ValueError("the 'learned' trajectory mode needs the fused map")
        t = stamp_ns * 1e-9
        tracked = sorted((o for o in objects if o.track_id != 0), key=lambda o: o.track_id)
        if not tracked:
            points = []
        elif self.mode == 'learned':
            points = self.learned(t, f, tracked)
        else:
            points = [constant_velocity(o, self.steps, self.dt) for o in tracked]
        if f is not None:
            self.remember(t, f.features)
        return list(zip(tracked, points))

    def remember(self, t: float, features: np.ndarray) -> None:
        """Keep a fused map for the learned head's past inputs; drop those no lag reaches."""
        self.history.append((t, features))
        while self.history and self.history[0][0] < t - max(self.lags + [0.0]) - 1.0:
            self.history.popleft()
