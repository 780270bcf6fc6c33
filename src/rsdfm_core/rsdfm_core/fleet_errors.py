"""The errors a real fleet meets, applied to recorded frames: pose noise, late maps, fleet size.

A drone knows its pose from GNSS and an IMU (metres, a degree or two), its map reaches the ground
station 100-400 ms late, and the fleet may be smaller or larger than the one the model was
trained with. `rsdfm evaluate` applies these to the frames of a bag before the model sees them,
seeded and reproducible, so the robustness tables of the collaborative-perception literature
(pose error and time delay, as in CoAlign, HEAL, V2X-ViT) can be measured here.

- Pose noise: per drone per frame, Gaussian position error (sigma in metres on x, y and z) and a
  rotation about the camera centre of Gaussian yaw, pitch and roll (sigma in degrees). The
  image is what the camera saw; only the pose the drone believes, and so the place its map
  lands, is wrong.
- Delay: each drone's view (image and pose) comes from `delay` before the fusion stamp while
  the ground truth is that of the stamp, so the objects have moved. Frames with no view that
  old are left out of the scoring.
- Reference: one drone keeps its exact, current pose and view (the first by default, the ego
  of CoAlign and HEAL: a drone with RTK, or the one the others are registered to); with
  reference None every drone errs, and the fused map drifts against the world.
- Drones: any subset of the bag's drones, in the given order.

ROS-free; noise depends only on (seed, frame stamp, drone id), so a subset or another order
gives each drone the same error.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
import math
import zlib

import numpy as np

from rsdfm_core.types import continues_sequence, Frame

REFERENCE_FIRST = 'first'
STAMP_TOLERANCE_NS = 1_000_000        # 1 ms: a delay must be a whole number of frame periods


@dataclass(frozen=True)
class FleetErrors:
    """What to do to the frames; the defaults change nothing."""

    position_sigma_m: float = 0.0       # per axis (x, y, z)
    rotation_sigma_deg: float = 0.0     # per angle (yaw, pitch, roll)
    delay_ms: float = 0.0
    reference: str | None = REFERENCE_FIRST   # 'first', a drone id, or None (every drone errs)
    drones: tuple[str, ...] | None = None     # None: all of the bag's drones
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ('position_sigma_m', 'rotation_sigma_deg', 'delay_ms'):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f'{name} must be a finite number >= 0, got {value}')
        if self.drones is not None and not self.drones:
            raise ValueError('drones must name at least one drone')

    def describe(self) -> dict:
        """Return the settings as plain data, for the evaluation's JSON."""
        return {'position_sigma_m': self.position_sigma_m,
                'rotation_sigma_deg': self.rotation_sigma_deg, 'delay_ms': self.delay_ms,
                'reference': self.reference, 'drones': list(self.drones) if self.drones else None,
                'seed': self.seed}


def rotation_ypr(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation matrix Rz(yaw) Ry(pitch) Rx(roll), angles in radians, about the map axes."""
    cy, sy, cp, sp, cr, sr = (math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch),
                              math.cos(roll), math.sin(roll))
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    return rz @ ry @ rx


def pose_error(errors: FleetErrors, stamp_ns: int, agent_id: str) -> np.ndarray:
    """Return the 4x4 error of one drone's believed pose at one stamp (identity without noise).

    Applied as error @ pose about the camera centre: see noisy_pose.
    """
    rng = np.random.default_rng([errors.seed, stamp_ns, zlib.crc32(agent_id.encode())])
    dp = rng.normal(0.0, errors.position_sigma_m, 3) if errors.position_sigma_m else np.zeros(3)
    angles = (np.radians(rng.normal(0.0, errors.rotation_sigma_deg, 3))
              if errors.rotation_sigma_deg else np.zeros(3))
    out = np.eye(4)
    out[:3, :3] = rotation_ypr(*angles)
    out[:3, 3] = dp
    return out


def noisy_pose(cam_to_map: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Return the believed camera pose: rotated by the error about its own centre, shifted."""
    out = np.array(cam_to_map, dtype=np.float64, copy=True)
    out[:3, :3] = error[:3, :3] @ out[:3, :3]
    out[:3, 3] = out[:3, 3] + error[:3, 3]
    return out


def true_pose(believed: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Return the pose a drone had, from the one it believed and its error (undoes noisy_pose)."""
    out = np.array(believed, dtype=np.float64, copy=True)
    out[:3, :3] = error[:3, :3].T @ out[:3, :3]
    out[:3, 3] = out[:3, 3] - error[:3, 3]
    return out


def view_error(errors: FleetErrors, stamp_ns: int, agent_id: str, reference: str | None
               ) -> np.ndarray | None:
    """Return the pose error agent's view gets at stamp, None if it keeps its exact pose."""
    if agent_id == reference or not (errors.position_sigma_m or errors.rotation_sigma_deg):
        return None
    return pose_error(errors, stamp_ns, agent_id)


def frame_period_ns(frames: list[Frame]) -> int | None:
    """Median gap between consecutive frames of one sequence (None for fewer than 2 frames)."""
    gaps = [b.stamp_ns - a.stamp_ns for a, b in zip(frames, frames[1:])
            if continues_sequence(a, b)]
    return int(np.median(gaps)) if gaps else None


def apply_fleet_errors(frames: list[Frame], errors: FleetErrors) -> tuple[list[Frame], dict]:
    """Return the frames as the fusion side would get them under `errors`, and what was done.

    Raises ValueError naming the problem: an unknown drone, a reference outside the fleet, a
    delay that is not a whole number of frame periods.
    """
    if not frames:
        raise ValueError('no frames')
    known = list(dict.fromkeys(v.agent_id for f in frames for v in f.views))
    drones = list(errors.drones) if errors.drones else known
    unknown = [d for d in drones if d not in known]
    if unknown:
        raise ValueError(f'drone(s) {", ".join(unknown)} not in the bag (it has '
                         f'{", ".join(known)})')
    if errors.reference in (None, REFERENCE_FIRST):
        reference = drones[0] if errors.reference == REFERENCE_FIRST else None
    elif errors.reference in drones:
        reference = errors.reference
    else:
        raise ValueError(f'reference drone {errors.reference} is not among the evaluated drones '
                         f'({", ".join(drones)})')
    steps = _delay_steps(frames, errors.delay_ms)
    out, left_out, seq_start = [], 0, 0
    for i, frame in enumerate(frames):
        if i and not continues_sequence(frames[i - 1], frame):
            seq_start = i                       # a new sequence: no view crosses into it
        if i - steps < seq_start:
            left_out += 1
            continue
        past = {v.agent_id: v for v in frames[i - steps].views}
        views = []
        for agent in drones:
            current = next((v for v in frame.views if v.agent_id == agent), None)
            erring = agent != reference
            view = past.get(agent) if erring else current
            if view is None:
                continue
            error = view_error(errors, frame.stamp_ns, agent, reference)
            if error is not None:
                view = replace(view, cam_to_map=noisy_pose(view.cam_to_map, error))
            views.append(view)
        out.append(Frame(frame.index, frame.stamp_ns, views, frame.objects))
    info = {**errors.describe(), 'reference': reference, 'drones': drones,
            'delay_frames': steps, 'frames_left_out': left_out}
    return out, info


def _delay_steps(frames: list[Frame], delay_ms: float) -> int:
    if delay_ms == 0:
        return 0
    period = frame_period_ns(frames)
    if period is None:
        raise ValueError('a delay needs at least two consecutive frames to know the frame period')
    delay_ns = delay_ms * 1e6
    steps = round(delay_ns / period)
    if steps < 1 or abs(steps * period - delay_ns) > STAMP_TOLERANCE_NS:
        raise ValueError(f'delay {delay_ms:g} ms is not a whole number of frame periods '
                         f'({period / 1e6:g} ms in this bag)')
    return steps
