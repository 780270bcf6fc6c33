"""Where the perception node gets the camera pose at an image's capture stamp.

Three sources, chosen by the node's `pose_source` parameter:
- 'tf' (default, REP-105): map -> camera optical frame from TF at the image stamp (tf2_ros
  Buffer and TransformListener: the drone's /tf body pose composed with its /tf_static gimbal
  mount, interpolated by tf2);
- 'topic': geometry_msgs/PoseStamped of the optical frame on camera/pose (PoseBuffer);
- 'odometry': nav_msgs/Odometry of the body (PoseBuffer) composed with the static mount
  body -> optical frame from TF.
Each answers a lookup with a 4x4 pose, Lookup.WAIT (a later message may still settle it), or a
Refusal naming why no pose can be had. tf2 never extrapolates; a stamp newer than the newest
transform by at most `tolerance` uses that newest transform (the zero-order hold PoseBuffer also
applies), anything further is refused as 'tf_extrapolation'.
"""
from __future__ import annotations

import numpy as np
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.time import Time
from tf2_ros import (
    Buffer,
    ConnectivityException,
    ExtrapolationException,
    LookupException,
    TransformListener,
)

from rsdfm_core.geometry import pose_matrix
from rsdfm_core.validation import Refusal
from rsdfm_perception.pose_buffer import Lookup

POSE_SOURCES = ('tf', 'topic', 'odometry')
TF_ERRORS = (LookupException, ConnectivityException, ExtrapolationException)


def transform_matrix(t) -> np.ndarray:
    """4x4 pose of a geometry_msgs/TransformStamped's child frame in its parent frame."""
    r, q = t.transform.translation, t.transform.rotation
    return pose_matrix((r.x, r.y, r.z), (q.x, q.y, q.z, q.w))


class _TransformListener(TransformListener):
    """tf2's listener, minus the AttributeError its __del__ prints when construction failed.

    A node stopped while it starts up gets its context shut down by rclpy; the listener's first
    create_subscription then raises, and tf2's __del__ unregisters subscriptions never made.
    """

    def __del__(self) -> None:
        if hasattr(self, 'tf_static_sub'):
            super().__del__()


class TfPoses:
    """Poses from a tf2 buffer filled by a TransformListener on the node (its own executor)."""

    def __init__(self, node: Node, world_frame: str = 'map', cache_s: float = 30.0) -> None:
        self.world = world_frame
        self.buffer = Buffer(cache_time=Duration(seconds=cache_s), node=node)
        self.listener = _TransformListener(self.buffer, node, spin_thread=False)

    def lookup(self, frame: str, stamp_ns: int, tolerance_ns: int,
               final: bool) -> np.ndarray | Lookup | Refusal:
        """Pose of `frame` in the world frame at stamp_ns."""
        return self.between(self.world, frame, stamp_ns, tolerance_ns, final)

    def between(self, parent: str, child: str, stamp_ns: int, tolerance_ns: int,
                final: bool) -> np.ndarray | Lookup | Refusal:
        """Pose of `child` in `parent` at stamp_ns (tf2 interpolates between /tf messages)."""
        try:
            return transform_matrix(
                self.buffer.lookup_transform(parent, child, Time(nanoseconds=stamp_ns))
            )
        except ExtrapolationException as exc:
            if not final:
                return Lookup.WAIT
            return self._held(parent, child, stamp_ns, tolerance_ns, str(exc))
        except (LookupException, ConnectivityException) as exc:
            if not final:
                return Lookup.WAIT
            return Refusal('tf_lookup', f'no transform {parent} -> {child}: {_first_line(exc)}')

    def _held(self, parent: str, child: str, stamp_ns: int, tolerance_ns: int,
              why: str) -> np.ndarray | Refusal:
        """Return the newest transform if the stamp lies at most tolerance past it.

        Else a refusal.
        """
        try:
            newest = self.buffer.lookup_transform(parent, child, Time())
        except TF_ERRORS as exc:
            return Refusal('tf_lookup', f'no transform {parent} -> {child}: {_first_line(exc)}')
        newest_ns = Time.from_msg(newest.header.stamp).nanoseconds
        if abs(stamp_ns - newest_ns) <= tolerance_ns or newest_ns == 0:   # 0: a static transform
            return transform_matrix(newest)
        return Refusal(
            'tf_extrapolation',
            f'{parent} -> {child} at {stamp_ns / 1e9:.3f} is '
            f'{(stamp_ns - newest_ns) / 1e9:+.3f} s '
            f'from the newest transform (tolerance {tolerance_ns / 1e9:g} s): {_first_line(why)}',
        )


def _first_line(exc) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
