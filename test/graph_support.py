"""Shared pieces of the graph tests: small simulated bags, a probe node, the replay.

The probe node collects what the graph publishes (spun in a background thread); the replay is
driven from the test process.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
import threading

SMALL = {'width': 320, 'height': 240}
IMAGE_TOPICS = ('camera/image_raw', 'camera/camera_info', 'camera/pose')


def make_bag(out: Path, drones: int = 2, frames: int = 4, seed: int = 3, **size) -> Path:
    """Write a short simulated bag (no dense ground truth, small images) for the graph tests."""
    from rsdfm_core.bag import write_bag
    from rsdfm_core.world.config import WorldConfig
    from rsdfm_core.world.simulator import Simulator

    cfg = WorldConfig(seed=seed, drones=drones, dense_gt=False, **{**SMALL, **size})
    sim = Simulator(cfg)
    return write_bag(out, sim.frames(frames))


def node_inputs(topics, pose_source: str = 'tf') -> list[str]:
    """Return the played topics the perception nodes subscribe to.

    Images, camera info, and TF or the PoseStamped topic as pose_source says: a graph is ready
    once each is matched.
    """
    poses = ('/camera/pose',) if pose_source == 'topic' else ()
    return [t for t in topics if t.endswith(('/camera/image_raw', '/camera/camera_info', *poses))
            or (pose_source == 'tf' and t in ('/tf', '/tf_static'))]


def inputs_matched(replay, drones: int, pose_source: str = 'tf') -> bool:
    """Tell whether every perception input the replay plays is matched with its readers.

    /tf and /tf_static have one reader per perception node, the camera topics one each.
    """
    return all(replay.matched(t) >= (drones if t in ('/tf', '/tf_static') else 1)
               for t in node_inputs(replay.topics, pose_source))


def play_topics(namespaces) -> list[str]:
    """Return what the graph tests replay: the drones' camera topics, TF and the ground truth."""
    return ([f'{ns}/{leaf}' for ns in namespaces for leaf in IMAGE_TOPICS]
            + ['/tf', '/tf_static', '/ground_truth/objects'])


class Probe:
    """A node in the test process that keeps every message of some topics, in arrival order."""

    def __init__(self, context, topics: dict[str, type], name: str = 'rsdfm_test_probe') -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        from rsdfm_ros.qos import result_qos

        self.node = rclpy.create_node(name, context=context)
        self.messages: dict[str, list] = defaultdict(list)
        self.lock = threading.Lock()
        for topic, cls in topics.items():
            self.node.create_subscription(
                cls, topic, lambda m, t=topic: self._keep(t, m), result_qos(depth=200)
            )
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._stop = threading.Event()
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # noqa: BLE001 - context shut down at the end of the test
                return

    def _keep(self, topic: str, msg) -> None:
        with self.lock:
            self.messages[topic].append(msg)

    def get(self, topic: str) -> list:
        with self.lock:
            return list(self.messages[topic])

    def diagnostics(self, node_name: str) -> dict[str, str]:
        """Newest /diagnostics key/values of one node ({} if none yet)."""
        for arr in reversed(self.get('/diagnostics')):
            for status in arr.status:
                if status.name == node_name:
                    return {kv.key: kv.value for kv in status.values}
        return {}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.executor.shutdown()
        self.node.destroy_node()


def all_subscribed(node, topics) -> bool:
    """Every topic has at least one subscriber (the graph is ready to receive it)."""
    return all(node.count_subscribers(t) > 0 for t in topics)


def isolate_this_process() -> None:
    """Put this test process on the same isolated ROS domain as the subprocesses (ros_env).

    Must run before rclpy is initialised in this process.
    """
    import os

    from helpers import ros_domain_id

    os.environ['ROS_DOMAIN_ID'] = str(ros_domain_id())
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ.pop('ROS_LOCALHOST_ONLY', None)
    os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    from rsdfm_bringup.dds import use_rsdfm_dds_profile
    use_rsdfm_dds_profile()
