"""Record ROS topics into a rosbag2 MCAP bag (ros2 bag record for machines without rosbag2).

Topics are found at run time from the graph (a topic that appears later is picked up);
messages are taken as serialized CDR (raw subscriptions) and written as they are, stamped
with their receive time, like rosbag2 does. The QoS follows the publishers: reliable unless
one of them is best effort (a reliable subscriber would silently not match it). Once every
wanted topic has a subscription matched with a publisher (DDS matching, not only the graph's
counts), it prints ALL_MATCHED once: a session waits for that line before it starts sending.
"""
from __future__ import annotations

from pathlib import Path
import sys

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import StoragePlugin, Writer

from rsdfm_bringup.replay import message_class
from rsdfm_core.bag import make_typestore
from rsdfm_ros.qos import result_qos

ALL_MATCHED = 'record: every topic matched with a publisher'


class BagRecorder:
    """Subscribes to topics as they appear and writes every message to one MCAP bag."""

    def __init__(self, node, out: str | Path, topics: list[str] | None = None,
                 discovery_period: float = 0.5, typestore=None) -> None:
        self.node, self.out = node, Path(out)
        if self.out.exists():
            raise FileExistsError(f'{self.out} exists; the recorder will not overwrite a bag')
        self.wanted = set(topics) if topics else None
        self.typestore = typestore or make_typestore()
        self.writer = Writer(self.out, version=9, storage_plugin=StoragePlugin.MCAP)
        self.writer.open()
        self.connections = {}
        self.counts: dict[str, int] = {}
        self._subs = []
        self._refused: set[str] = set()
        self._closed = False
        self.all_matched = False
        self.discover()
        self.timer = node.create_timer(discovery_period, self.discover)

    def discover(self) -> None:
        """Subscribe to every wanted topic present in the graph that is not recorded yet."""
        for topic, types in self.node.get_topic_names_and_types():
            if topic in self.connections or topic in self._refused:
                continue
            if self.wanted is not None and topic not in self.wanted:
                continue
            if self.wanted is None and topic in ('/rosout', '/parameter_events'):
                continue
            msgtype = types[0]
            try:
                cls = message_class(msgtype)
                self.connections[topic] = self.writer.add_connection(
                    topic, msgtype, typestore=self.typestore
                )
            except (LookupError, KeyError) as exc:
                self._refused.add(topic)
                self.node.get_logger().warning(
                    f'not recording {topic}: type {msgtype} unknown ({exc})'
                )
                continue
            self.counts[topic] = 0
            self._subs.append(
                self.node.create_subscription(
                    cls,
                    topic,
                    lambda raw, t=topic: self._write(t, raw),
                    self._qos_for(topic),
                    raw=True,
                )
            )
            print(f'record: recording {topic} [{msgtype}]', file=sys.stderr)
        if (not self.all_matched and self.wanted is not None
                and len(self._subs) == len(self.wanted)
                and all(sub.get_publisher_count() > 0 for sub in self._subs)):
            self.all_matched = True
            print(ALL_MATCHED, file=sys.stderr, flush=True)

    def _qos_for(self, topic: str) -> QoSProfile:
        qos = result_qos(depth=100)
        infos = self.node.get_publishers_info_by_topic(topic)
        if any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for i in infos):
            qos.reliability = ReliabilityPolicy.BEST_EFFORT
        if infos and all(
            i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in infos
        ):
            qos.durability = DurabilityPolicy.TRANSIENT_LOCAL     # /tf_static: latched mounts
        return qos

    def _write(self, topic: str, raw: bytes) -> None:
        if self._closed:
            return
        now = self.node.get_clock().now().nanoseconds
        self.writer.write(self.connections[topic], now, bytes(raw))
        self.counts[topic] += 1

    def close(self) -> None:
        """Finish the bag (writes the MCAP summary and metadata.yaml)."""
        if not self._closed:
            self._closed = True
            self.node.destroy_timer(self.timer)
            for sub in self._subs:
                self.node.destroy_subscription(sub)
            self.writer.close()
