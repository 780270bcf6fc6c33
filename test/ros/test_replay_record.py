"""`rsdfm record` (another process) records what BagReplay plays over real DDS.

The bag it writes is read back by rosbags and by the mcap reader, every message there, stamps
moved as asked (restamp to now, one drone's clock skewed 2 s behind).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
import signal
import subprocess
import sys

from graph_support import isolate_this_process, make_bag, play_topics
from helpers import wait_for

isolate_this_process()
RSDFM = str(Path(sys.executable).with_name('rsdfm'))   # the console script, as users run it


def _read_rosbags(path: Path):
    from rosbags.highlevel import AnyReader

    from rsdfm_core.bag import make_typestore

    out = []
    with AnyReader([path], default_typestore=make_typestore()) as reader:
        for conn, t, raw in reader.messages():
            out.append((conn.topic, conn.msgtype, reader.deserialize(raw, conn.msgtype)))
    return out


def test_replayed_bag_is_recorded_and_read_back_by_rosbags_and_mcap(
    tmp_path, rclpy_context, ros_env
):
    import rclpy

    from rsdfm_bringup.replay import BagReplay

    src = make_bag(tmp_path / 'src', drones=2, frames=3, width=64, height=48)
    topics = play_topics(['/uav1', '/uav2'])
    out = tmp_path / 'rec'
    recorder = subprocess.Popen([RSDFM, 'record', '--out', str(out), *topics],
                                env=ros_env, stderr=subprocess.PIPE, text=True)
    node = rclpy.create_node('test_replay', context=rclpy_context)
    try:
        replay = BagReplay(node, src, rate=4.0, topics=topics, restamp=True, skew={'uav2': -2.0},
                           camera_qos_kind='reliable')
        wait_for(lambda: all(replay.matched(t) > 0 for t in topics) or recorder.poll() is not None,
                 timeout=30, message='recorder subscribed to every topic')
        assert recorder.poll() is None, recorder.stderr.read()
        # per frame: 3 camera topics of 2 drones, ground truth, /tf; /tf_static once per drone
        assert replay.play(progress=False) == 3 * (2 * 3 + 1 + 1) + 2
        assert replay.flush(10.0), 'recorder did not acknowledge every message'
        offset = replay.offset_ns
    finally:
        node.destroy_node()
        recorder.send_signal(signal.SIGINT)
        err = recorder.communicate(timeout=20)[1]
    assert recorder.returncode == 0, err

    source = _read_rosbags(src)
    recorded = _read_rosbags(out)
    assert Counter(t for t, _, _ in recorded) == Counter(t for t, _, _ in source if t in topics)
    src_stamps = {(t, stamp_of(m)) for t, _, m in source if t in topics}
    rec_stamps = {(t, stamp_of(m)) for t, _, m in recorded}
    expected = {
        (t, s + offset - (2 * 10**9 if t.startswith('/uav2/') else 0)) for t, s in src_stamps
    }
    assert rec_stamps == expected
    images = [m for t, _, m in recorded if t == '/uav1/camera/image_raw']
    originals = [m for t, _, m in source if t == '/uav1/camera/image_raw']
    assert [bytes(m.data) for m in images] == [bytes(m.data) for m in originals]

    from mcap.reader import make_reader
    mcap_files = list(out.glob('*.mcap'))
    assert len(mcap_files) == 1
    with open(mcap_files[0], 'rb') as f:
        reader = make_reader(f)
        counts = Counter(channel.topic for _, channel, _ in reader.iter_messages())
        schemas = {s.name for s in reader.get_summary().schemas.values()}
    assert counts == Counter(t for t, _, _ in recorded)
    assert {'sensor_msgs/msg/Image', 'rsdfm_msgs/msg/Detection3DArray'} <= schemas


def stamp_of(msg) -> int:
    """Header stamp of a message, or of the first transform of a tf2_msgs/TFMessage."""
    header = msg.header if hasattr(msg, 'header') else msg.transforms[0].header
    return header.stamp.sec * 10**9 + header.stamp.nanosec


def test_replay_and_record_refuse_bad_input_in_one_line(tmp_path, ros_env):
    cases = [
        (['replay', str(tmp_path / 'nope')], 'no rosbag2 bag at'),
        (['replay', str(tmp_path), '--rate', '0'], '--rate must be > 0'),
        (['replay', str(tmp_path), '--skew', 'uav3'], '--skew wants NAMESPACE=SECONDS'),
        (['record', '--out', str(tmp_path)], 'exists'),
    ]
    for args, words in cases:
        proc = subprocess.run([RSDFM, *args], env=ros_env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        assert words in proc.stderr and 'Traceback' not in proc.stderr, (args, proc.stderr)
