"""Bags written by write_bag read back exactly, with rosbags and independently with the mcap library."""
from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from mcap.reader import make_reader
from rosbags.rosbag2 import Reader

from rsdfm_core.bag import read_frames, write_bag
from rsdfm_core.world import Simulator, WorldConfig

N_FRAMES, N_DRONES = 3, 2
PER_DRONE = {'camera/image_raw': 'sensor_msgs/msg/Image', 'camera/camera_info': 'sensor_msgs/msg/CameraInfo',
             'camera/pose': 'geometry_msgs/msg/PoseStamped', 'ground_truth/depth': 'sensor_msgs/msg/Image',
             'ground_truth/height': 'sensor_msgs/msg/Image', 'ground_truth/instances': 'sensor_msgs/msg/Image'}
EXPECTED = {f'/uav{i}/{leaf}': t for i in range(1, N_DRONES + 1) for leaf, t in PER_DRONE.items()}
EXPECTED['/ground_truth/objects'] = 'rsdfm_msgs/msg/Detection3DArray'


def simulate(seed: int) -> list:
    return list(Simulator(WorldConfig(seed=seed, drones=N_DRONES, width=160, height=120)).frames(N_FRAMES))


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
            np.testing.assert_allclose([ob.x, ob.y, ob.z, ob.length, ob.width, ob.height, ob.vx, ob.vy, ob.score],
                                       [oa.x, oa.y, oa.z, oa.length, oa.width, oa.height, oa.vx, oa.vy, oa.score],
                                       rtol=0, atol=0)
            assert np.cos(ob.yaw - oa.yaw) == pytest.approx(1.0, abs=1e-12)


def test_rosbags_reader_sees_topics_types_counts_and_stamps(written):
    frames, bag = written
    stamps = [f.stamp_ns for f in frames]
    with Reader(bag) as reader:
        assert {c.topic: c.msgtype for c in reader.connections} == EXPECTED
        assert all(c.msgcount == N_FRAMES for c in reader.connections)
        assert reader.start_time == stamps[0] and reader.end_time == stamps[-1] + 1
        per_topic = {}
        for conn, t, _ in reader.messages():
            per_topic.setdefault(conn.topic, []).append(t)
    assert all(ts == stamps for ts in per_topic.values())


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
        assert dict(summary.statistics.channel_message_counts) == {c.id: N_FRAMES for c in channels.values()}
        assert {c.compression for c in summary.chunk_indexes} == {'zstd'}
        counts = Counter()
        for schema, channel, message in reader.iter_messages():
            counts[channel.topic] += 1
            assert message.log_time in stamps
            # CDR: 4-byte encapsulation header, then header.stamp (int32 sec, uint32 nanosec)
            sec, nsec = struct.unpack_from('<iI', message.data, 4)
            assert sec * 1_000_000_000 + nsec == message.log_time
    assert counts == {t: N_FRAMES for t in EXPECTED}


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
