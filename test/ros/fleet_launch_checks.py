"""launch_testing checks of the INSTALLED fleet launch file (share/rsdfm_bringup/launch).

    PYTHONPATH=test launch_test test/ros/fleet_launch_checks.py bag:=BAG [use_sim_time:=true]

starts `fleet.launch.py drones:=2` as `ros2 launch rsdfm_bringup fleet.launch.py` would (found
through the ament index), replays BAG (a simulated bag of uav1 and uav2) into it with the real
`rsdfm replay` command, and checks from outside: detections, segmentation and trajectories
arrive, `ros2 node list` sees every node, `ros2 topic hz` measures a detection rate, and the
nodes run with the DDS profile that `rsdfm run` gives its nodes. With use_sim_time:=true the
replay publishes /clock (--clock) and keeps the bag's own stamps, which are far older than the
fusion node's max_age: outputs then come only if the nodes really take /clock as their time.

test/ros/test_launch_installed.py runs it for both settings. Not named test_*.py: pytest must
not collect the unittest classes below without their launch.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import time
import unittest

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.events.process import ProcessExited, ProcessStarted
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
import launch_testing.actions

from graph_support import Probe
from helpers import wait_for

DRONES = ('/uav1', '/uav2')
NODES = [f'{ns}/perception_node' for ns in DRONES] + [
    '/fusion_node', '/detection_node', '/segmentation_node', '/trajectory_node']
OUTPUTS = ('/rsdfm/detections', '/rsdfm/segmentation', '/rsdfm/trajectories')
RSDFM = str(Path(sys.executable).with_name('rsdfm'))
ROS2 = str(Path(sys.executable).with_name('ros2'))
REPLAY_RATE = 0.25   # 2.5 frames a second: what two drones' perception keeps up with here
# A new participant hears from the others within their announcement period (3 s in Fast DDS).
SPIN_TIME = 4.0
T0 = time.monotonic()


def generate_test_description() -> LaunchDescription:
    fleet = Path(get_package_share_directory('rsdfm_bringup')) / 'launch' / 'fleet.launch.py'
    return LaunchDescription([
        DeclareLaunchArgument('bag', description='simulated bag of uav1 and uav2 to replay'),
        DeclareLaunchArgument('use_sim_time', default_value='false'),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(str(fleet)),
            launch_arguments={'drones': '2',
                              'use_sim_time': LaunchConfiguration('use_sim_time')}.items()),
        launch_testing.actions.ReadyToTest(),
    ])


def stopped_nodes(proc_info) -> dict[str, int]:
    """Return the processes of the launch that have exited, with their exit codes."""
    return {p.process_name: p.returncode for p in proc_info if isinstance(p, ProcessExited)}


def ros2(*args: str, timeout: float = 30.0) -> str | None:
    """Return the output of one `ros2` command line, None if it failed.

    The real CLI, in this test's ROS domain, without its daemon, waiting SPIN_TIME for discovery;
    it fails while a node is not discovered yet.
    """
    done = subprocess.run([ROS2, *args, '--no-daemon', '--spin-time', str(SPIN_TIME)],
                          capture_output=True, text=True, timeout=timeout)
    return done.stdout if done.returncode == 0 else None


def not_connected(probe, readiness, sim_time: bool) -> list[str]:
    """Return what the launched graph still lacks for a replay to lose no frame ([] = nothing).

    The replay's own writers are matched by `rsdfm replay --wait-subscribers`. On the wall clock
    every other link is checked as matched (inputs_matched on /diagnostics, the probe's readers);
    node timers run on the ROS clock, so with sim time neither /diagnostics nor the fusion
    node's search for drone topics runs before /clock does: then the graph's readers count.
    """
    node = probe.node
    missing = [f'{ns}/camera/{leaf} reader' for ns in DRONES
               for leaf in ('image_raw', 'camera_info')
               if node.count_subscribers(f'{ns}/camera/{leaf}') < 1]
    # the camera poses come from TF (pose_source tf): every perception node listens to both
    missing += [f'{topic} readers' for topic in ('/tf', '/tf_static')
                if node.count_subscribers(topic) < len(DRONES)]
    missing += [f'{s.topic_name} publisher' for s in node.subscriptions
                if s.topic_name in OUTPUTS and s.get_publisher_count() < 1]
    if sim_time:
        wanted = {'/clock': len(NODES), '/rsdfm/fused_bev': 3}
        missing += [f'{n} readers of {topic}' for topic, n in wanted.items()
                    if node.count_subscribers(topic) < n]
    else:
        missing += [f'{name} inputs matched' for name in NODES
                    if not name.endswith('perception_node')
                    and not matched(readiness.inputs_matched.get(name, '0/0'))]
    return missing


def matched(inputs: str) -> bool:
    """Tell whether an inputs_matched value k/n has every one of at least one input matched."""
    k, _, n = inputs.partition('/')
    return n not in ('', '0') and k == n


def bag_stamps(bag: Path) -> set[int]:
    """Capture stamps (ns) of the bag's frames."""
    from rsdfm_core.bag import read_frames

    return {frame.stamp_ns for frame in read_frames(bag)}


def note(step: str) -> None:
    """Say in the launch_test output how long the checks took to reach `step`."""
    print(f'[checks] {time.monotonic() - T0:6.1f} s: {step}', file=sys.stderr, flush=True)


def stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


class TestInstalledFleetLaunch(unittest.TestCase):
    """The graph of the installed launch file, driven by a replayed bag, watched from outside."""

    @classmethod
    def setUpClass(cls) -> None:
        import rclpy
        from rclpy.context import Context

        cls.context = Context()
        rclpy.init(args=[], context=cls.context)   # not sys.argv: it holds the launch arguments

    @classmethod
    def tearDownClass(cls) -> None:
        cls.context.try_shutdown()

    def test_outputs_arrive_and_the_ros2_cli_sees_the_graph(self, proc_info, test_args) -> None:
        from nav_msgs.msg import OccupancyGrid

        from rsdfm_msgs.msg import Detection3DArray, TrajectoryArray

        sim_time = test_args.get('use_sim_time', 'false').lower() == 'true'
        bag = Path(test_args['bag'])
        types = (Detection3DArray, OccupancyGrid, TrajectoryArray)
        probe = Probe(self.context, dict(zip(OUTPUTS, types)), name='launch_test_probe')
        hz = None
        try:
            self.wait_until_connected(probe, proc_info, sim_time)
            note('graph connected')
            if not sim_time:   # started before the replay, so it sees every detection
                hz = start_hz(bag.parent / 'hz.log', probe.node)
            started = time.time_ns()
            replay = subprocess.Popen([RSDFM, 'replay', str(bag), '--rate', str(REPLAY_RATE),
                                       '--wait-subscribers', '30',
                                       '--clock' if sim_time else '--restamp'],
                                      stderr=subprocess.PIPE, text=True)
            self.check_cli_sees_the_graph(sim_time)   # while the bag plays
            note('ros2 node list and param get done')
            err = replay.communicate(timeout=120)[1]
            finished = time.time_ns()
            self.assertEqual(replay.returncode, 0, err[-2000:])
            note('replay done')
            wait_for(lambda: all(probe.get(t) for t in OUTPUTS), timeout=30, interval=0.2,
                     message='detections, segmentation and trajectories arrived')
            note(f'{len(probe.get(OUTPUTS[0]))} detection messages')
            if hz is not None:
                self.check_hz(bag.parent / 'hz.log')
        finally:
            if hz is not None:
                stop(hz)
            probe.close()
        self.assertFalse(stopped_nodes(proc_info), 'nodes stopped while the bag played')
        self.assertGreaterEqual(len(probe.get('/rsdfm/detections')), 3,
                                'detections for at least 3 frames')
        frames = bag_stamps(bag)
        for topic in OUTPUTS:
            stamps = {stamp_ns(m) for m in probe.get(topic)}
            if sim_time:
                # The bag's own stamps: accepted only because the nodes' clocks follow /clock.
                self.assertLessEqual(stamps, frames, topic)
            else:
                self.assertTrue(all(started <= s <= finished for s in stamps),
                                f'{topic}: restamped outputs carry the time of the replay')

    def wait_until_connected(self, probe, proc_info, sim_time: bool) -> None:
        """Wait until the launched graph is connected (see not_connected).

        Fails on a timeout with what it still lacked, or as soon as a node stops.
        """
        from rsdfm_bringup.readiness import GraphReadiness
        from rsdfm_core.graph import fleet_graph

        readiness = GraphReadiness(probe.node, fleet_graph(drones=len(DRONES)))
        missing = ['everything']

        def ready() -> bool:
            self.assertFalse(stopped_nodes(proc_info), 'nodes stopped before the replay')
            missing[:] = not_connected(probe, readiness, sim_time)
            return not missing
        try:
            wait_for(ready, timeout=120, interval=0.2)
        except TimeoutError:
            self.fail(f'the launched graph was not connected within 120 s: no {missing}')

    def check_cli_sees_the_graph(self, sim_time: bool) -> None:
        """`ros2 node list` lists every node; `ros2 param get` reads the use_sim_time launched."""
        with ThreadPoolExecutor(2) as pool:
            listed = pool.submit(wait_for, lambda: set(NODES) <= set(
                (ros2('node', 'list') or '').split()), timeout=30, interval=0.5,
                message='ros2 node list shows every node')
            param = pool.submit(
                wait_for, lambda: ros2('param', 'get', '/fusion_node', 'use_sim_time'),
                timeout=30, interval=0.5, message='ros2 param get answered')
            listed.result()
            self.assertEqual(param.result().strip(), f'Boolean value is: {sim_time}')

    def check_hz(self, log: Path) -> None:
        """`ros2 topic hz` measured about the rate the replay sent frames at."""
        rate = wait_for(lambda: hz_rate(log), timeout=15, interval=0.2,
                        message='ros2 topic hz printed an average rate')
        frame_rate = 10.0 * REPLAY_RATE   # simulated bags are 10 Hz
        self.assertTrue(0.2 * frame_rate <= rate <= 4.0 * frame_rate,
                        f'ros2 topic hz says {rate} Hz for about {frame_rate} Hz of frames')

    def test_nodes_use_the_same_dds_profile_as_rsdfm_run(self, proc_info) -> None:
        from rsdfm_bringup.runner import node_environment

        profile = Path(node_environment({})['FASTDDS_DEFAULT_PROFILES_FILE'])

        def started() -> dict[str, int]:
            return {p.process_name: p.pid for p in proc_info if isinstance(p, ProcessStarted)}
        pids = wait_for(lambda: len(started()) == len(NODES) and started(), timeout=60,
                        message='every node process started')
        for name, pid in pids.items():
            env = dict(item.split('=', 1) for item in
                       Path(f'/proc/{pid}/environ').read_text().split('\0') if '=' in item)
            used = Path(env.get('FASTDDS_DEFAULT_PROFILES_FILE', ''))
            self.assertTrue(used.is_file(), f'{name} runs without the rsdfm DDS profile')
            self.assertEqual(used.read_bytes(), profile.read_bytes(), name)


def start_hz(log: Path, node) -> subprocess.Popen:
    """`ros2 topic hz /rsdfm/detections` writing to `log`, once it reads the topic."""
    with open(log, 'w') as out:
        hz = subprocess.Popen([ROS2, 'topic', 'hz', '/rsdfm/detections', '--window', '50'],
                              stdout=out, stderr=subprocess.STDOUT,
                              env=dict(os.environ, PYTHONUNBUFFERED='1'))
    wait_for(lambda: node.count_subscribers('/rsdfm/detections') >= 2, timeout=30,
             interval=0.2, message='ros2 topic hz subscribed')
    return hz


def stop(proc: subprocess.Popen) -> None:
    """Stop a command line tool as Ctrl-C would, killing it if it does not end."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def hz_rate(log: Path) -> float | None:
    """Return the last average rate `ros2 topic hz` printed, None before its first."""
    rates = re.findall(r'average rate: ([0-9.]+)', log.read_text())
    return float(rates[-1]) if rates else None
