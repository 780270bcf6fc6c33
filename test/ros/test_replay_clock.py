"""BagReplay with clock_hz publishes the playback time on /clock as `ros2 bag play --clock` does.

It publishes the bag's times (moved like the stamps with restamp), never backwards, from the
first message's time to the last's; and a node with use_sim_time takes it as its now. With
align_ns the replay starts late enough that its stamp shift is a multiple of align_ns.
"""
from __future__ import annotations

import threading

import pytest

from graph_support import isolate_this_process, make_bag, play_topics
from helpers import wait_for

isolate_this_process()


@pytest.mark.parametrize('restamp', [False, True])
def test_replay_publishes_the_bag_time_on_clock(tmp_path, rclpy_context, restamp):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock

    from rsdfm_bringup.replay import BagReplay, CLOCK_TOPIC

    bag = make_bag(tmp_path / 'bag', drones=1, frames=4, width=64, height=48)
    player = rclpy.create_node('test_clock_player', context=rclpy_context)
    listener = rclpy.create_node('test_clock_listener', context=rclpy_context,
                                 parameter_overrides=[Parameter('use_sim_time', value=True)])
    clocks: list[int] = []
    lock = threading.Lock()

    def keep(msg) -> None:
        with lock:
            clocks.append(msg.clock.sec * 10**9 + msg.clock.nanosec)
    listener.create_subscription(Clock, CLOCK_TOPIC, keep,
                                 QoSProfile(depth=200, reliability=ReliabilityPolicy.BEST_EFFORT))
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(listener)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        replay = BagReplay(player, bag, rate=2.0, topics=play_topics(['/uav1']), restamp=restamp,
                           clock_hz=50.0)
        wait_for(lambda: replay.matched(CLOCK_TOPIC) >= 2, timeout=30,
                 message="/clock matched with the listener and its node's time source")
        replay.play(progress=False)
        # The bag times of the first and last messages sent, moved as their stamps were.
        first, last = (min(replay.sent_at) + replay.offset_ns,
                       max(replay.sent_at) + replay.offset_ns)
        wait_for(lambda: clocks and clocks[-1] == last, timeout=10, message='last /clock arrived')
        # The listener's own time source (use_sim_time) takes /clock as its now.
        wait_for(lambda: listener.get_clock().now().nanoseconds == last, timeout=10,
                 message='the node with use_sim_time is at the last /clock')
    finally:
        executor.shutdown()
        spinner.join(5)
        listener.destroy_node()
        player.destroy_node()
    with lock:
        seen = list(clocks)
    assert seen[0] == first and seen == sorted(seen)
    span_s = (last - first) / 1e9
    assert len(seen) >= 0.5 * 50.0 * span_s / 2.0, f'{len(seen)} /clock messages in {span_s} s'
    if restamp:   # moved like the stamps: the bag starts when the replay started
        assert abs(first - replay.sent_at[replay.start_ns]) < 10**9
    else:
        assert replay.offset_ns == 0 and first == replay.start_ns


def test_replay_refuses_a_negative_clock_rate(tmp_path, rclpy_context):
    import rclpy

    from rsdfm_bringup.replay import BagReplay

    bag = make_bag(tmp_path / 'bag', drones=1, frames=1, width=64, height=48)
    node = rclpy.create_node('test_clock_refusal', context=rclpy_context)
    try:
        with pytest.raises(ValueError, match='clock_hz'):
            BagReplay(node, bag, clock_hz=-1.0)
    finally:
        node.destroy_node()


def test_restamped_replay_aligned_shifts_stamps_by_a_multiple_and_keeps_them_wall_times(
        tmp_path, rclpy_context):
    import rclpy

    from rsdfm_bringup.replay import BagReplay

    bag = make_bag(tmp_path / 'bag', drones=1, frames=3, width=64, height=48)
    node = rclpy.create_node('test_aligned_player', context=rclpy_context)
    align = 400_000_000
    try:
        with pytest.raises(ValueError, match='align_ns'):
            BagReplay(node, bag, align_ns=-1)
        for _ in range(2):
            replay = BagReplay(node, bag, rate=4.0, topics=play_topics(['/uav1']), restamp=True,
                               align_ns=align)
            replay.play(progress=False)
            assert replay.offset_ns % align == 0
            # published at its new stamp, not up to align_ns before or after it
            late_ns = replay.sent_at[replay.start_ns] - (replay.start_ns + replay.offset_ns)
            assert 0 <= late_ns < 50_000_000, late_ns
    finally:
        node.destroy_node()
