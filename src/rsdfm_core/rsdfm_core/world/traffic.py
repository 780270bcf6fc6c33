"""Vehicles driving on the town's lanes.

A lane graph, a kinematic model, traffic lights, car following.

Each moving vehicle follows a polyline path (a lane between two intersections, or a turn through
one), picks its next path at random when it enters one, slows for the vehicle ahead, for red lights
and before turns, and so stops and starts. Parked vehicles stand in parking bays. Track ids are
stable for the whole run (>= 1).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .boxes import BoxSet
from .town import Town
from ..types import ObjectState

# class: (length, width, height), share of moving traffic, top speed m/s
VEHICLE_SPECS = {'car': ((4.5, 1.9, 1.5), 0.78, 13.0), 'truck': ((8.0, 2.5, 3.2), 0.12, 10.0),
                 'bus': ((12.0, 2.6, 3.2), 0.10, 9.0)}
_BODY_COLOURS = np.array([[0.9, 0.9, 0.9], [0.08, 0.08, 0.09], [0.6, 0.62, 0.65], [0.7, 0.1, 0.1],
                          [0.1, 0.2, 0.6], [0.85, 0.75, 0.2], [0.15, 0.45, 0.2], [0.4, 0.25, 0.15],
                          [0.95, 0.5, 0.1], [0.3, 0.6, 0.8], [0.45, 0.1, 0.35], [0.75, 0.75, 0.7]])
_BODY_P = np.array([0.2, 0.17, 0.17, 0.08, 0.09, 0.04, 0.05, 0.04, 0.04, 0.04, 0.03, 0.05])
_DIRS = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])   # E N W S
LIGHT_PERIOD, ALL_RED = 24.0, 2.0
ACCEL, BRAKE, TURN_SPEED, MIN_GAP = 2.0, 4.0, 5.5, 2.5
REROUTE_AFTER = 16.0     # seconds; longer than a red phase


@dataclass
class Path:
    points: np.ndarray        # (P, 2)
    cum: np.ndarray           # (P,) arc length at each point
    axis: int                 # 0: runs along x, 1: along y (for the light at its end)
    node: tuple[int, int] | None   # intersection at its end (lanes only)
    turn: bool                # a connector through an intersection that changes direction
    # indices of the paths that may follow this one; a public field name, so not renamed
    next: list[int]  # noqa: A003
    conflicts: set[int] = field(default_factory=set)   # connectors whose swept area meets this one

    @property
    def length(self) -> float:
        return float(self.cum[-1])


def _polyline(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    return points, np.concatenate([[0.0], np.cumsum(seg)])


def build_lane_graph(town: Town) -> list[Path]:
    """Build the lane graph.

    Lanes between neighbouring intersections (right-hand traffic) and turn connectors inside them.
    """
    xs, ys = town.road_xs, town.road_ys
    clear = town.road_half_width + 1.0
    paths: list[Path] = []
    lane_id: dict[tuple, int] = {}

    def neighbour(i, j, d):
        ni, nj = i + int(_DIRS[d, 0]), j + int(_DIRS[d, 1])
        return (ni, nj) if 0 <= ni < len(xs) and 0 <= nj < len(ys) else None

    def node_xy(i, j):
        return np.array([xs[i], ys[j]])

    for i in range(len(xs)):
        for j in range(len(ys)):
            for d in range(4):
                nb = neighbour(i, j, d)
                if nb is None:
                    continue
                dv = _DIRS[d]
                right = np.array([dv[1], -dv[0]])
                a = node_xy(i, j) + dv * clear + right * town.lane_offset
                b = node_xy(*nb) - dv * clear + right * town.lane_offset
                n = max(2, int(np.linalg.norm(b - a) // 2) + 1)
                pts, cum = _polyline(np.linspace(a, b, n))
                lane_id[(i, j, d)] = len(paths)
                paths.append(Path(pts, cum, d % 2, nb, False, []))
    for (i, j, d), pid in list(lane_id.items()):
        ni, nj = paths[pid].node
        outs = [d2 for d2 in range(4) if (ni, nj, d2) in lane_id and d2 != (d + 2) % 4]
        if not outs:
            outs = [(d + 2) % 4]
        for d2 in outs:
            p_in = paths[pid].points[-1]
            out = paths[lane_id[(ni, nj, d2)]]
            p_out = out.points[0]
            if d2 == d:
                pts = np.linspace(p_in, p_out, 8)
            else:
                ctrl = p_in + _DIRS[d] * np.dot(p_out - p_in, _DIRS[d]) if d2 != (d + 2) % 4 else \
                    node_xy(ni, nj) + _DIRS[d] * clear * 0.5
                s = np.linspace(0, 1, 12)[:, None]
                pts = (1 - s) ** 2 * p_in + 2 * (1 - s) * s * ctrl + s ** 2 * p_out
            pts, cum = _polyline(pts)
            paths[pid].next.append(len(paths))
            paths.append(Path(pts, cum, d2 % 2, None, d2 != d, [lane_id[(ni, nj, d2)]]))
    _mark_conflicts(paths)
    return paths


def _dense(p: Path, step: float = 0.5) -> np.ndarray:
    s = np.arange(0.0, p.length + step, step)
    return np.stack([np.interp(s, p.cum, p.points[:, 0]), np.interp(s, p.cum, p.points[:, 1])], 1)


def _mark_conflicts(paths: list[Path], clearance: float = 3.0) -> None:
    """Mark conflicting connectors through one intersection.

    Connectors conflict when they pass closer than `clearance` metres, unless they start from
    the same lane (then car following keeps them apart).
    """
    starts: dict[int, int] = {}
    for pid, p in enumerate(paths):
        for nxt in p.next:
            if paths[nxt].node is None:
                starts[nxt] = pid
    conns = sorted(starts)
    dense = {c: _dense(paths[c]) for c in conns}
    for i, a in enumerate(conns):
        for b in conns[i + 1:]:
            if starts[a] == starts[b]:
                continue
            pa, pb = dense[a], dense[b]
            if np.linalg.norm(pa.mean(0) - pb.mean(0)) > 40.0:
                continue
            d = np.linalg.norm(pa[:, None, :] - pb[None, :, :], axis=-1).min()
            if d < clearance:
                paths[a].conflicts.add(b)
                paths[b].conflicts.add(a)


class Traffic:
    """All vehicles of the town; `advance(dt)` moves them, `objects()` reports exact boxes."""

    def __init__(
        self,
        town: Town,
        rng: np.random.Generator,
        density: float = 1 / 28.0,
        parked_share: float = 0.25,
    ):
        self.town = town
        self.rng = rng
        self.paths = build_lane_graph(town)
        self.time = 0.0
        nodes = {p.node for p in self.paths if p.node is not None}
        self.light_offset = {n: rng.uniform(0, LIGHT_PERIOD) for n in sorted(nodes)}
        labels, path, s, vmax, size, colour = [], [], [], [], [], []

        def new_vehicle(label):
            (l, w, h), _, top = VEHICLE_SPECS[label]
            j = rng.uniform(0.92, 1.08, 3)
            size.append((l * j[0], w * min(j[1], 1.04), h * j[2]))
            c = _BODY_COLOURS[rng.choice(len(_BODY_COLOURS), p=_BODY_P)]
            colour.append(np.clip(c * rng.uniform(0.85, 1.1) + rng.uniform(-0.03, 0.03, 3), 0, 1))
            labels.append(label)
            vmax.append(top * rng.uniform(0.75, 1.05))

        names = list(VEHICLE_SPECS)
        shares = np.array([VEHICLE_SPECS[n][1] for n in names])
        for pid, p in enumerate(self.paths):
            if p.turn or p.node is None:
                continue
            pos = rng.uniform(2.0, 2.0 + 1 / density)
            while pos < p.length - 8.0:
                label = names[rng.choice(3, p=shares)]
                new_vehicle(label)
                path.append(pid)
                s.append(pos + size[-1][0] / 2)
                pos += size[-1][0] + rng.exponential(1 / density) + 4.0
        self.n_moving = len(labels)
        self.path = np.array(path, dtype=np.int64)
        self.s = np.array(s, dtype=np.float64)
        self.v = np.array(vmax) * rng.uniform(0.0, 0.8, len(vmax))
        self.next_path = np.array(
            [rng.choice(self.paths[p].next) for p in self.path], dtype=np.int64
        )
        self.prev_path = np.full(self.n_moving, -1, dtype=np.int64)
        self.has_slot = np.zeros(self.n_moving, bool)
        self.waited = np.zeros(self.n_moving)  # seconds stopped at the line without a way through
        # parked cars (and the odd van) in a share of the parking bays
        slots = town.parking_slots
        take = slots[rng.uniform(size=len(slots)) < parked_share] if len(slots) else slots
        self.parked_pose = take.copy()
        for _ in range(len(take)):
            new_vehicle('car' if rng.uniform() < 0.95 else 'truck')
            size[-1] = (
                (min(size[-1][0], 5.0), min(size[-1][1], 2.1), size[-1][2])
                if labels[-1] == 'truck'
                else size[-1]
            )
        self.vmax = np.array(vmax)
        self.labels = labels
        self.size = np.array(size, dtype=np.float64).reshape(-1, 3)
        self.colour = np.array(colour, dtype=np.float32).reshape(-1, 3)
        self.track_ids = np.arange(1, len(labels) + 1, dtype=np.int32)
        self._pose_cache = None

    # --- state -------------------------------------------------------------------------------
    def _moving_pose(self) -> tuple[np.ndarray, np.ndarray]:
        xy = np.zeros((self.n_moving, 2))
        yaw = np.zeros(self.n_moving)
        for k in range(self.n_moving):
            p = self.paths[self.path[k]]
            s = min(max(self.s[k], 0.0), p.length)
            xy[k, 0] = np.interp(s, p.cum, p.points[:, 0])
            xy[k, 1] = np.interp(s, p.cum, p.points[:, 1])
            a, b = max(s - 0.75, 0.0), min(s + 0.75, p.length)
            dx = np.interp(b, p.cum, p.points[:, 0]) - np.interp(a, p.cum, p.points[:, 0])
            dy = np.interp(b, p.cum, p.points[:, 1]) - np.interp(a, p.cum, p.points[:, 1])
            yaw[k] = np.arctan2(dy, dx)
        return xy, yaw

    def poses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (N, 2) centres, (N,) yaw, (N, 2) velocity of every vehicle.

        Moving vehicles come first, then parked ones.
        """
        if self._pose_cache is None:
            xy, yaw = self._moving_pose()
            vel = self.v[:, None] * np.stack([np.cos(yaw), np.sin(yaw)], 1)
            n_p = len(self.parked_pose)
            self._pose_cache = (np.concatenate([xy, self.parked_pose[:, :2]]),
                                np.concatenate([yaw, self.parked_pose[:, 2]]),
                                np.concatenate([vel, np.zeros((n_p, 2))]))
        return self._pose_cache

    def objects(self) -> list[ObjectState]:
        xy, yaw, vel = self.poses()
        out = []
        for k, label in enumerate(self.labels):
            l, w, h = self.size[k]
            out.append(
                ObjectState(
                    int(self.track_ids[k]),
                    label,
                    float(xy[k, 0]),
                    float(xy[k, 1]),
                    float(h / 2),
                    float(l),
                    float(w),
                    float(h),
                    float(np.arctan2(np.sin(yaw[k]), np.cos(yaw[k]))),
                    float(vel[k, 0]),
                    float(vel[k, 1]),
                )
            )
        return out

    def boxes(self) -> BoxSet:
        xy, yaw, _ = self.poses()
        return BoxSet.vehicles(self.labels, xy, yaw, self.size, self.colour, self.track_ids)

    # --- dynamics ----------------------------------------------------------------------------
    def _green(self, node: tuple[int, int], axis: int) -> bool:
        phase = (self.time + self.light_offset[node]) % LIGHT_PERIOD
        half = LIGHT_PERIOD / 2
        if axis == 0:
            return phase < half - ALL_RED
        return half <= phase < LIGHT_PERIOD - ALL_RED

    def advance(self, dt: float) -> None:
        """Move the traffic on by dt seconds (in sub-steps of at most 0.1 s)."""
        steps = max(1, int(np.ceil(dt / 0.1 - 1e-9)))
        for _ in range(steps):
            self._step(dt / steps)

    def _occupied(self) -> set[int]:
        """Return the connectors in use.

        In use: driven on, reserved by an approaching vehicle, or still under a long tail.
        """
        occ: set[int] = set()
        for k in range(self.n_moving):
            p = self.paths[self.path[k]]
            if p.node is None:
                occ.add(int(self.path[k]))
            else:
                if self.has_slot[k]:
                    occ.add(int(self.next_path[k]))
                if self.prev_path[k] >= 0 and self.s[k] < self.size[k, 0] / 2 + 1.0:
                    occ.add(int(self.prev_path[k]))
        return occ

    def _room(self) -> dict[int, float]:
        """Return the free length at the start of each lane.

        Minus what vehicles already heading into it will take, so nobody enters an intersection it
        cannot leave (no gridlock).
        """
        room: dict[int, float] = {}
        for k in range(self.n_moving):
            pid = int(self.path[k])
            p = self.paths[pid]
            if p.node is not None:
                room[pid] = min(room.get(pid, np.inf), self.s[k] - self.size[k, 0] / 2)
        for k in range(self.n_moving):
            p = self.paths[self.path[k]]
            target = (
                p.next[0]
                if p.node is None
                else (self.paths[self.next_path[k]].next[0] if self.has_slot[k] else None)
            )
            if target is not None:
                room[target] = room.get(target, np.inf) - self.size[k, 0] - MIN_GAP
        return room

    def _step(self, dt: float) -> None:
        n = self.n_moving
        if n == 0:
            self.time += dt
            return
        xy_all, yaw_all, _ = self.poses()
        xy, yaw = xy_all[:n], yaw_all[:n]
        head = np.stack([np.cos(yaw), np.sin(yaw)], 1)
        rel = xy_all[None, :, :] - xy[:, None, :]
        fwd = np.einsum('ijk,ik->ij', rel, head)
        lat = np.abs(rel[..., 0] * head[:, None, 1] - rel[..., 1] * head[:, None, 0])
        hd_all = np.stack([np.cos(yaw_all), np.sin(yaw_all)], 1)
        same = head @ hd_all.T > -0.2  # not oncoming: also a leader that is turning away
        same[:, n:] = False                       # parked cars are off the lanes
        ahead = (fwd > 0) & (lat < 1.6) & same
        np.fill_diagonal(ahead[:, :n], False)
        gap = fwd - (self.size[:n, 0][:, None] + self.size[:, 0][None, :]) / 2
        gap = np.where(ahead, gap, np.inf).min(axis=1)
        v_des = np.minimum(self.vmax[:n], np.sqrt(2 * BRAKE * np.maximum(gap - MIN_GAP, 0.0)))
        occupied = self._occupied()
        room = self._room()
        for k in range(n):
            p = self.paths[self.path[k]]
            if p.node is None:
                if p.turn:
                    v_des[k] = min(v_des[k], TURN_SPEED)
                continue
            nxt = self.paths[self.next_path[k]]
            to_end = p.length - self.s[k] - self.size[k, 0] / 2
            if not self.has_slot[k] and to_end < self.v[k] ** 2 / (2 * BRAKE) + 8.0 \
                    and self._green(p.node, p.axis) and not (nxt.conflicts & occupied) \
                    and room.get(nxt.next[0], np.inf) > self.size[k, 0] + MIN_GAP + 1.0:
                self.has_slot[k] = True             # reserve the way through the intersection
                occupied.add(int(self.next_path[k]))
                room[nxt.next[0]] = room.get(nxt.next[0], np.inf) - self.size[k, 0] - MIN_GAP
            if not self.has_slot[k]:
                v_des[k] = min(v_des[k], np.sqrt(2 * BRAKE * max(to_end - 0.5, 0.0)))
                if to_end < 1.0 and self.v[k] < 0.1:
                    self.waited[k] += dt
                    if (
                        self.waited[k] > REROUTE_AFTER and len(p.next) > 1
                    ):  # blocked too long: go another way
                        others = [q for q in p.next if q != self.next_path[k]]
                        self.next_path[k] = others[self.rng.integers(len(others))]
                        self.waited[k] = 0.0
            else:
                self.waited[k] = 0.0
            if nxt.turn:
                v_des[k] = min(v_des[k], np.sqrt(TURN_SPEED ** 2 + 2 * BRAKE * max(to_end, 0.0)))
        self.v = np.minimum(self.v + ACCEL * dt, v_des)
        s_new = self.s + self.v * dt
        for k in range(n):
            p = self.paths[self.path[k]]
            if p.node is not None and not self.has_slot[k]:
                stop = p.length - self.size[k, 0] / 2  # never nose into an unreserved intersection
                if s_new[k] > stop:
                    s_new[k] = max(stop, self.s[k])
                    self.v[k] = 0.0
        self.s = s_new
        for k in range(n):
            while self.s[k] > self.paths[self.path[k]].length:
                self.s[k] -= self.paths[self.path[k]].length
                self.prev_path[k] = self.path[k]
                self.path[k] = self.next_path[k]
                self.next_path[k] = self.rng.choice(self.paths[self.path[k]].next)
                if self.paths[self.path[k]].node is not None:
                    self.has_slot[k] = False
        self.time += dt
        self._pose_cache = None
