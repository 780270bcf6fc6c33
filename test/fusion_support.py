"""The test process's ends of a fusion graph: maps fed in, and a watch on what comes out.

MapFeed feeds drones' maps as the loss soak does (a simulated flight, encoded once, published
at the cameras' rate with fresh stamps); FusionWatch keeps what fusion_node publishes (fused
maps, /diagnostics); fusion_under_test runs fusion_node as its own process with both around it.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
import threading
import time
from typing import Iterator


class MapFeed:
    """Publishes the maps of the agents in `active` at `rate_hz` from a thread.

    maps: [frame][drone] -> (agent_id, EncodedMap, cam_to_map), as encode_fleet_maps gives. An
    agent named outside the flight takes the maps of its first drone.
    """

    def __init__(self, node, maps: list, model_id: str, rate_hz: float = 10.0) -> None:
        self.node, self.maps, self.model_id = node, maps, model_id
        self.period = 1.0 / rate_hz
        self.flight = [a for a, _, _ in maps[0]]
        self.lock = threading.Lock()
        self.pubs: dict[str, object] = {}
        self.active: set[str] = set()
        self.sent: list[int] = []                 # stamps of the frames sent, in order
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def publisher(self, agent: str):
        """Return the agent's /<agent>/rsdfm/bev_feature publisher, made on first use."""
        from rsdfm_ros.qos import result_qos
        from rsdfm_msgs.msg import BevFeature

        with self.lock:
            if agent not in self.pubs:
                self.pubs[agent] = self.node.create_publisher(
                    BevFeature, f'/{agent}/rsdfm/bev_feature', result_qos())
            return self.pubs[agent]

    def start(self, agents) -> None:
        """Publish the maps of `agents` from now on (starting the feed the first time)."""
        for agent in agents:
            self.publisher(agent)
        with self.lock:
            self.active |= set(agents)
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()

    def pause(self, agents) -> None:
        """Stop publishing for `agents`, their publishers kept (a silent drone)."""
        with self.lock:
            self.active -= set(agents)

    def remove(self, agent: str) -> None:
        """Stop publishing for `agent` and destroy its publisher (a drone gone)."""
        self.pause([agent])
        with self.lock:
            pub = self.pubs.pop(agent, None)
        if pub is not None:
            self.node.destroy_publisher(pub)

    def feature(self, agent: str, frame: int, stamp_ns: int):
        """Return the BevFeature of `agent` for frame number `frame`, stamped `stamp_ns`."""
        from rsdfm_ros.conversions import encoded_to_feature

        views = self.maps[frame % len(self.maps)]
        _, m, pose = views[self.flight.index(agent) if agent in self.flight else 0]
        return encoded_to_feature(m, agent, stamp_ns, pose, self.model_id)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        t0, stamp0 = time.monotonic(), time.time_ns()
        k = 0
        while not self._stop.is_set():
            stamp = stamp0 + int(k * self.period * 1e9)   # capture times on the cameras' schedule
            with self.lock:                       # so remove() cannot destroy one in use
                for agent in sorted(self.active):
                    self.pubs[agent].publish(self.feature(agent, k, stamp))
            self.sent.append(stamp)
            k += 1
            self._stop.wait(max(0.0, t0 + k * self.period - time.monotonic()))   # camera rate


class FusionWatch:
    """Fused maps (stamp, agents, arrival time) and fusion_node's newest /diagnostics.

    Kept by a node spun in a background thread.
    """

    def __init__(self, context, name: str = 'rsdfm_fusion_watch') -> None:
        import rclpy

        from diagnostic_msgs.msg import DiagnosticArray
        from rsdfm_bringup.session import BackgroundSpin
        from rsdfm_ros.qos import result_qos
        from rsdfm_msgs.msg import FusedBev

        self.node = rclpy.create_node(name, context=context)
        self.lock = threading.Lock()
        self.fused: list[tuple[int, frozenset, int]] = []
        self.diag: dict[str, str] = {}
        self.diag_count = 0                       # fusion_node /diagnostics received so far
        self.node.create_subscription(FusedBev, '/rsdfm/fused_bev', self._on_fused,
                                      result_qos(depth=100))
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag,
                                      result_qos(depth=50))
        self.spin = BackgroundSpin(self.node, context)

    def _on_fused(self, msg) -> None:
        from rsdfm_ros.conversions import stamp_to_ns

        with self.lock:
            self.fused.append((stamp_to_ns(msg.header.stamp), frozenset(msg.agents),
                               time.time_ns()))

    def _on_diag(self, msg) -> None:
        for status in msg.status:
            if status.name == '/fusion_node':
                with self.lock:
                    self.diag = {kv.key: kv.value for kv in status.values}
                    self.diag_count += 1

    def fusion(self, key: str, default: str = '') -> str:
        """Return a value of fusion_node's newest /diagnostics."""
        with self.lock:
            return self.diag.get(key, default)

    def fused_maps(self) -> list[tuple[int, frozenset, int]]:
        with self.lock:
            return list(self.fused)

    def close(self) -> None:
        self.spin.stop()
        self.node.destroy_node()


@contextlib.contextmanager
def fusion_under_test(tmp_path: Path, params: str, drones: int = 2
                      ) -> Iterator[tuple[object, 'FusionWatch', MapFeed]]:
    """Run fusion_node (parameters file text `params`) with a feed of `drones` real maps.

    Yields (runner, watch, feed); the node is started, the feed is not (feed.start(agents)).
    """
    import rclpy
    from rclpy.context import Context

    from helpers import ros_test_env
    from rsdfm_bench.soak import encode_fleet_maps
    from rsdfm_bringup.runner import GraphRunner
    from rsdfm_core.graph import fleet_graph

    maps, model_id = encode_fleet_maps(drones, 10, seed=5)
    (tmp_path / 'params.yaml').write_text(params)
    runner = GraphRunner(fleet_graph(namespaces=['uav1'], params_file=tmp_path / 'params.yaml'),
                         log_dir=tmp_path / 'logs', env=ros_test_env())
    context = Context()
    rclpy.init(context=context)
    watch = FusionWatch(context)
    feed = MapFeed(watch.node, maps, model_id)
    try:
        runner.start(['/fusion_node'])
        yield runner, watch, feed
    finally:
        feed.stop()
        watch.close()
        context.try_shutdown()
        runner.stop(timeout=20)
