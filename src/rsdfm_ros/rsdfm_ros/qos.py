"""The QoS profiles of the rsdfm graph, in one place so publishers and subscribers agree.

Camera input uses the sensor-data profile (best effort, as image_pipeline does) unless told
'reliable'; features and results are reliable with a small keep-last depth (docs/architecture.md).
A best-effort subscriber matches both kinds of publisher; a reliable one does not match a
best-effort publisher, and that mismatch is silent, hence one definition here.
"""
from __future__ import annotations

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    qos_profile_sensor_data,
    QoSProfile,
    ReliabilityPolicy,
)

CAMERA_QOS_CHOICES = ('sensor_data', 'reliable')


def camera_qos(kind: str = 'sensor_data', depth: int = 10) -> QoSProfile:
    """Return the QoS for camera/image_raw, camera/camera_info and camera/pose.

    kind is 'sensor_data' or 'reliable'.
    """
    if kind not in CAMERA_QOS_CHOICES:
        raise ValueError(f'camera QoS must be one of {CAMERA_QOS_CHOICES}, got {kind!r}')
    reliability = (qos_profile_sensor_data.reliability if kind == 'sensor_data'
                   else ReliabilityPolicy.RELIABLE)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability,
                      durability=DurabilityPolicy.VOLATILE)


def result_qos(depth: int = 10) -> QoSProfile:
    """Reliable keep-last QoS for BEV features, fused maps and task outputs."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )


# 3 s of maps at 10 Hz: a node that stalls for longer than max_wait + max_skew (2 s) has lost
# the frame anyway; a shorter stall (a loaded machine, a burst after a radio gap) loses nothing.
FEATURE_DEPTH = 30


def feature_qos(depth: int = FEATURE_DEPTH) -> QoSProfile:
    """Reliable keep-last QoS for BevFeature and FusedBev, on both writer and reader side.

    Deeper than result_qos: the writer's history is what reliable repairs are served from, and
    the reader's is what absorbs a consumer falling behind for a moment; both overflow silently
    (counted by NodeDiagnostics.loss_events) once a stall is longer than `depth` maps.
    """
    return result_qos(depth)


def tf_qos(static: bool = False) -> QoSProfile:
    """Return the QoS of /tf or /tf_static, as tf2_ros' broadcasters and listeners use.

    /tf: reliable, volatile, depth 100; /tf_static also transient local, so a node that starts
    late still gets every mount.
    """
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=100,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if static else DurabilityPolicy.VOLATILE,
    )
