"""Bags written by write_bag read back exactly, with rosbags and independently with mcap."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
import struct

from mcap.reader import make_reader
import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from rsdfm_core.bag import read_frames, write_bag
from rsdfm_core.world import Simulator, WorldConfig

N_FRAMES, N_DRONES = 3, 2
PER_DRONE = {
    'camera/image_raw': 'sensor_msgs/msg/Image',
    'camera/camera_info': 'sensor_msgs/msg/CameraInfo',
    'camera/pose': 'geometry_msgs/msg/PoseStamped',
    'ground_truth/depth': 'sensor_msgs/msg/Image',
    'ground_truth/height': 'sensor_msgs/msg/Image',
    'ground_truth/instances': 'sensor_msgs/msg/Image',
}
EXPECTED = {f'/uav{i}/{leaf}': t for i in range(1, N_DRONES + 1) for leaf, t in PER_DRONE.items()}
EXPECTED['/ground_truth/objects'] = 'rsdfm_msgs/msg/Detection3DArray'
EXPECTED['/tf'] = EXPECTED['/tf_static'] = 'tf2_msgs/msg/TFMessage'
# messages per topic: every topic once a frame, but the gimbal mounts once per drone
COUNTS = {t: N_DRONES if t == '/tf_static' else N_FRAMES for t in EXPECTED}


def simulate(seed: int) -> list:
    return list(
        Simulator(WorldConfig(seed=seed, drones=N_DRONES, width=160, height=120)).frames(N_FRAMES)
    )


@pytest.fixture(scope='module')
def written(tmp_path_factory):
    frames = simulate(4)
    bag = write_bag(tmp_path_factory.mktemp('rt') / 'bag', frames)
    return frames, bag


def mcap_file(bag: Path) -> Path:
    (f,) = bag.glob('*.mcap')
    return f


def test_read_frames_round_trips_exactly(written):
    frames, bag = written
    back = list(read_frames(bag))
    assert len(back) == len(frames)
    for a, b in zip(frames, back):
        assert (a.index, a.stamp_ns) == (b.index, b.stamp_ns)
        assert [v.agent_id for v in a.views] == [v.agent_id for v in b.views]
        for va, vb in zip(a.views, b.views):
            for field in ('image', 'K', 'depth', 'height', 'instance'):
                x, y = getattr(va, field), getattr(vb, field)
                assert x.dtype == y.dtype and np.array_equal(x, y), field
            np.testing.assert_allclose(vb.cam_to_map, va.cam_to_map, atol=1e-12)
        assert len(a.objects) == len(b.objects)
        for oa, ob in zip(a.objects, b.objects):
            assert (oa.track_id, oa.label) == (ob.track_id, ob.label)
            np.testing.assert_allclose(
                [ob.x, ob.y, ob.z, ob.length, ob.width, ob.height, ob.vx, ob.vy, ob.score],
                [oa.x, oa.y, oa.z, oa.length, oa.width, oa.height, oa.vx, oa.vy, oa.score],
                rtol=0,
                atol=0,
            )
            assert np.cos(ob.yaw - oa.yaw) == pytest.approx(1.0, abs=1e-12)


def test_rosbags_reader_sees_topics_types_counts_and_stamps(written):
    frames, bag = written
    stamps = [f.stamp_ns for f in frames]
    with Reader(bag) as reader:
        assert {c.topic: c.msgtype for c in reader.connections} == EXPECTED
        assert {c.topic: c.msgcount for c in reader.connections} == COUNTS
        assert reader.start_time == stamps[0] and reader.end_time == stamps[-1] + 1
        per_topic = {}
        for conn, t, _ in reader.messages():
            per_topic.setdefault(conn.topic, []).append(t)
    assert all(ts == stamps for topic, ts in per_topic.items() if topic != '/tf_static')
    assert per_topic['/tf_static'] == [stamps[0]] * N_DRONES


def test_mcap_library_reads_the_bag_independently(written):
    frames, bag = written
    stamps = [f.stamp_ns for f in frames]
    with open(mcap_file(bag), 'rb') as fh:
        reader = make_reader(fh)
        summary = reader.get_summary()
        channels = {c.topic: c for c in summary.channels.values()}
        assert set(channels) == set(EXPECTED)
        for topic, ch in channels.items():
            schema = summary.schemas[ch.schema_id]
            assert schema.name == EXPECTED[topic] and schema.encoding == 'ros2msg'
            assert ch.message_encoding == 'cdr'
        assert dict(summary.statistics.channel_message_counts) == {
            c.id: COUNTS[c.topic] for c in channels.values()
        }
        assert {c.compression for c in summary.chunk_indexes} == {'zstd'}
        counts = Counter()
        for schema, channel, message in reader.iter_messages():
            counts[channel.topic] += 1
            assert message.log_time in stamps
            # CDR: 4-byte encapsulation header, then header.stamp (int32 sec, uint32 nanosec);
            # a TFMessage starts with its sequence length, then the first transform's header
            at = 8 if channel.topic in ('/tf', '/tf_static') else 4
            sec, nsec = struct.unpack_from('<iI', message.data, at)
            assert sec * 1_000_000_000 + nsec == message.log_time
    assert counts == COUNTS


def test_tf_body_pose_and_gimbal_mount_compose_to_the_camera_pose(written):
    """REP-105: the /tf body pose composed with the /tf_static gimbal mount is the camera pose.

    /tf map -> uavN/base_link (level, x along the view) composed with /tf_static
    uavN/base_link -> uavN/camera_optical_frame is the camera pose of every frame.
    """
    from rsdfm_core.bag import make_typestore
    from rsdfm_core.geometry import pose_matrix
    from rsdfm_core.messages import stamp_to_ns

    frames, bag = written
    ts = make_typestore()
    body, mount = {}, {}
    with Reader(bag) as reader:
        conns = [c for c in reader.connections if c.topic in ('/tf', '/tf_static')]
        for conn, t, raw in reader.messages(connections=conns):
            for tr in ts.deserialize_cdr(raw, conn.msgtype).transforms:
                r, q = tr.transform.translation, tr.transform.rotation
                T = pose_matrix((r.x, r.y, r.z), (q.x, q.y, q.z, q.w))
                key = (tr.header.frame_id, tr.child_frame_id)
                stamped = key + (stamp_to_ns(tr.header.stamp),)
                (mount if conn.topic == '/tf_static' else body)[stamped] = T
    assert sorted(k[:2] for k in mount) == [(f'uav{i}/base_link', f'uav{i}/camera_optical_frame')
                                            for i in range(1, N_DRONES + 1)]
    for frame in frames:
        for view in frame.views:
            a = view.agent_id
            B = body[('map', f'{a}/base_link', frame.stamp_ns)]
            (M,) = [T for k, T in mount.items() if k[1] == f'{a}/camera_optical_frame']
            np.testing.assert_allclose(B @ M, view.cam_to_map, atol=1e-9)
            np.testing.assert_allclose(B[:3, 2], [0, 0, 1], atol=1e-9)  # body is level
            np.testing.assert_allclose(M[:3, 3], 0, atol=1e-9)  # camera at the body
            forward = view.cam_to_map[:3, 2]
            along = forward[:2] / np.linalg.norm(forward[:2])
            assert np.dot(B[:2, 0], along) == pytest.approx(1.0)


def test_same_seed_same_bytes_different_seed_different_bags(tmp_path):
    # same bag name in two places: the MCAP embeds its own file name in the rosbag2 metadata record
    a = write_bag(tmp_path / 'one' / 'bag', simulate(9))
    b = write_bag(tmp_path / 'two' / 'bag', simulate(9))
    c = write_bag(tmp_path / 'three' / 'bag', simulate(10))
    assert mcap_file(a).read_bytes() == mcap_file(b).read_bytes()
    assert (a / 'metadata.yaml').read_bytes() == (b / 'metadata.yaml').read_bytes()
    assert mcap_file(a).read_bytes() != mcap_file(c).read_bytes()


def test_writer_refuses_an_existing_directory(tmp_path):
    with pytest.raises(FileExistsError, match='already exists'):
        write_bag(tmp_path, [])


def test_reader_refuses_a_directory_that_is_not_a_bag(tmp_path):
    with pytest.raises(FileNotFoundError, match='metadata.yaml'):
        list(read_frames(tmp_path))
