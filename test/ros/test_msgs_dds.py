"""Every rsdfm_msgs message crosses a process boundary over real DDS (rclpy, Fast DDS) intact.

This process publishes; test/ros/msg_echo_subscriber.py in another process receives and reports
every field of each message as plain values (payloads as length and SHA-256), which must equal
what was sent (a BevFeature with a 1.5 MB payload included). CDR bytes are not compared: Fast
DDS leaves alignment padding uninitialised, so equal messages serialise to different bytes.
Publishing repeats until the subscriber reports or the deadline passes: DDS discovery takes a
moment and reliable delivery starts only after it.
"""
from __future__ import annotations

import array
import hashlib
import json
from pathlib import Path
import subprocess
import sys

from helpers import message_to_plain, wait_for

SUBSCRIBER = Path(__file__).with_name('msg_echo_subscriber.py')
DEADLINE_S = 60.0
BEV_PAYLOAD_BYTES = 1_500_000


def _pose(x: float, y: float, z: float, qz: float = 0.0, qw: float = 1.0):
    from geometry_msgs.msg import Point, Pose, Quaternion
    return Pose(position=Point(x=x, y=y, z=z), orientation=Quaternion(x=0.0, y=0.0, z=qz, w=qw))


def _header(sec: int, nanosec: int):
    from builtin_interfaces.msg import Time
    from std_msgs.msg import Header
    return Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id='map')


def _detection(track_id: int, label: str):
    from geometry_msgs.msg import Vector3

    from rsdfm_msgs.msg import Detection3D
    return Detection3D(
        track_id=track_id,
        label=label,
        score=0.875,
        pose=_pose(12.25 * track_id, -3.5, 0.75, qz=0.3826834323650898, qw=0.9238795325112867),
        size=Vector3(x=4.5, y=1.875, z=1.5),
        velocity=Vector3(x=-2.25, y=0.5, z=0.0),
    )


def _trajectory(track_id: int, label: str):
    from builtin_interfaces.msg import Duration
    from geometry_msgs.msg import Point

    from rsdfm_msgs.msg import Trajectory
    return Trajectory(track_id=track_id, label=label, score=0.625,
                      step=Duration(sec=0, nanosec=500_000_000),
                      points=[Point(x=1.0 * k + track_id, y=-0.5 * k, z=0.0) for k in range(1, 7)])


def build_messages() -> dict[str, object]:
    """One message of every rsdfm_msgs type, keyed by the topic it travels on."""
    from rsdfm_msgs.msg import BevFeature, Detection3DArray, FusedBev, TrajectoryArray

    rng_bytes = hashlib.shake_256(b'rsdfm bev payload').digest(BEV_PAYLOAD_BYTES)
    bev = BevFeature(header=_header(1_700_000_000, 123_456_789), agent_id='uav3',
                     camera_pose=_pose(10.0, -20.0, 80.0, qz=0.7071067811865476,
                                       qw=0.7071067811865476),
                     grid_origin=_pose(-64.0, -64.0, 0.0), resolution=0.5, rows=256, cols=256,
                     channels=64, model_id='sha256:0123abcd', codec='hlf-v1',
                     payload=array.array('B', rng_bytes), raw_bytes=256 * 256 * 64 * 4)
    fused = FusedBev(
        header=_header(1_700_000_001, 5),
        grid_origin=_pose(-64.0, -64.0, 0.0),
        resolution=1.0,
        rows=128,
        cols=128,
        channels=8,
        agents=['uav1', 'uav2', 'uav4'],
        model_id='sha256:0123abcd',
        payload=array.array('B', hashlib.shake_256(b'fused').digest(128 * 128 * 8 * 2)),
    )
    return {
        '/rsdfm_test/detection': _detection(7, 'truck'),
        '/rsdfm_test/detections': Detection3DArray(
            header=_header(1_700_000_002, 999_999_999),
            detections=[_detection(1, 'car'), _detection(0, 'bus'), _detection(42, 'truck')],
        ),
        '/rsdfm_test/trajectory': _trajectory(5, 'bus'),
        '/rsdfm_test/trajectories': TrajectoryArray(
            header=_header(1_700_000_003, 1),
            trajectories=[_trajectory(1, 'car'), _trajectory(2, 'truck')],
        ),
        '/rsdfm_test/bev_feature': bev,
        '/rsdfm_test/fused_bev': fused,
    }


def _type_name(msg: object) -> str:
    return f'rsdfm_msgs/msg/{type(msg).__name__}'


def test_every_message_crosses_processes_intact(ros_env: dict[str, str], rclpy_context) -> None:
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    messages = build_messages()
    assert len(messages['/rsdfm_test/bev_feature'].payload) >= 1_000_000
    assert {type(m).__name__ for m in messages.values()} == {
        'Detection3D',
        'Detection3DArray',
        'Trajectory',
        'TrajectoryArray',
        'BevFeature',
        'FusedBev',
    }

    node = rclpy.create_node('msg_dds_publisher', context=rclpy_context)
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    publishers = {
        topic: node.create_publisher(type(msg), topic, qos) for topic, msg in messages.items()
    }

    subscriber = subprocess.Popen(
        [sys.executable, str(SUBSCRIBER), '--timeout', str(DEADLINE_S)]
        + [f'{topic}={_type_name(msg)}' for topic, msg in messages.items()],
        env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def published_until_subscriber_done() -> bool:
            for topic, publisher in publishers.items():
                publisher.publish(messages[topic])
            return subscriber.poll() is not None

        wait_for(published_until_subscriber_done, timeout=DEADLINE_S + 10, interval=0.2,
                 message='the subscriber process receiving every topic')
        out, err = subscriber.communicate(timeout=10)
    finally:
        if subscriber.poll() is None:
            subscriber.kill()
            subscriber.communicate()
        node.destroy_node()

    records = [json.loads(line) for line in out.splitlines() if line.startswith('{')]
    assert subscriber.returncode == 0, f'subscriber failed: {records[-1:]} stderr: {err[-2000:]}'
    by_topic = {r['topic']: r for r in records if 'topic' in r}
    assert set(by_topic) == set(messages)
    for topic, sent in messages.items():
        got = by_topic[topic]
        assert got['plain'] == message_to_plain(sent), f'{topic}: field values changed in transit'

    bev = by_topic['/rsdfm_test/bev_feature']['plain']
    assert bev['payload'] == {
        'len': BEV_PAYLOAD_BYTES,
        'sha256': hashlib.sha256(
            messages['/rsdfm_test/bev_feature'].payload.tobytes()
        ).hexdigest(),
    }
    assert by_topic['/rsdfm_test/detections']['plain']['detections'][2]['track_id'] == 42
    assert by_topic['/rsdfm_test/fused_bev']['plain']['agents'] == ['uav1', 'uav2', 'uav4']


def test_message_to_plain_sees_a_changed_field() -> None:
    """The comparison above would notice a change: a one-byte payload edit changes the result."""
    bev = build_messages()['/rsdfm_test/bev_feature']
    before = message_to_plain(bev)
    bev.payload[12345] ^= 0xFF
    assert message_to_plain(bev) != before
