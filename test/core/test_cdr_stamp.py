"""Stamp shifting on serialized messages, checked against rosbags' own CDR (de)serializer."""
import pytest
from rosbags.typesys import get_typestore, Stores

from rsdfm_bringup.cdr_stamp import read_stamp_ns, shift_stamp


def _pose_stamped(store, sec, nsec):
    T = store.types
    header = T['std_msgs/msg/Header'](
        stamp=T['builtin_interfaces/msg/Time'](sec=sec, nanosec=nsec), frame_id='map'
    )
    pose = T['geometry_msgs/msg/Pose'](
        position=T['geometry_msgs/msg/Point'](x=1.0, y=2.0, z=3.0),
        orientation=T['geometry_msgs/msg/Quaternion'](x=0.0, y=0.0, z=0.0, w=1.0),
    )
    return T['geometry_msgs/msg/PoseStamped'](header=header, pose=pose)


def test_shift_moves_only_the_stamp():
    store = get_typestore(Stores.ROS2_KILTED)
    raw = store.serialize_cdr(
        _pose_stamped(store, 100, 900_000_000), 'geometry_msgs/msg/PoseStamped'
    )
    assert read_stamp_ns(raw) == 100_900_000_000
    out = store.deserialize_cdr(
        bytes(shift_stamp(raw, -2_000_000_000 + 200_000_000)), 'geometry_msgs/msg/PoseStamped'
    )
    assert (out.header.stamp.sec, out.header.stamp.nanosec) == (99, 100_000_000)
    assert out.header.frame_id == 'map' and out.pose.position.z == 3.0


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match='too short'):
        shift_stamp(b'\x00\x01\x00', 1)
    with pytest.raises(ValueError, match='not a plain CDR'):
        shift_stamp(b'\x07\x07' + bytes(10), 1)
    store = get_typestore(Stores.ROS2_KILTED)
    raw = store.serialize_cdr(_pose_stamped(store, 1, 0), 'geometry_msgs/msg/PoseStamped')
    with pytest.raises(ValueError, match='negative'):
        shift_stamp(raw, -2_000_000_000)
