"""Play a rosbag2 bag into the ROS graph (ros2 bag play for machines without rosbag2).

Messages are read with rosbags and published as the serialized bytes they are stored as
(rclpy publishes raw CDR), paced by their recording times divided by `rate`. With `restamp`
every header stamp is moved so the bag starts now (so end-to-end latency from the image
stamp means something); `skew` moves one namespace's (or one topic's) stamps further, as a drone
whose clock is off would. Camera topics use the camera QoS, everything else reliable keep-last.
Bags are read through rsdfm_core.bag.BagSource: a cut or damaged bag, a requested topic the bag
lacks, or a message type rclpy does not know stops with an error naming the file and the
problem, unless skip_bad, which plays what is readable and says what it left out.
With `clock_hz` the replay also publishes the playback time on /clock (rosgraph_msgs/Clock),
like `ros2 bag play --clock`: nodes started with use_sim_time then take the bag's time as now.
"""
from __future__ import annotations

import importlib
from pathlib import Path
import sys
import threading
import time

from builtin_interfaces.msg import Time as TimeMsg
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from rsdfm_bringup.cdr_stamp import shift_stamp, shift_tf_stamps
from rsdfm_core.bag import BagError, BagSource, make_typestore
from rsdfm_core.bag.source import SKIP_HINT, warn_stderr
from rsdfm_ros.qos import camera_qos, result_qos, tf_qos

CAMERA_SUFFIXES = ('/camera/image_raw', '/camera/image_raw/compressed', '/camera/camera_info',
                   '/camera/pose', '/odom')
TF_TYPE = 'tf2_msgs/msg/TFMessage'

CLOCK_TOPIC = '/clock'
# What rclpy's time source reads /clock with (and rosbag2 plays it with): best effort, newest only.
CLOCK_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)


def message_class(msgtype: str):
    """Return the rclpy message class of a type name such as 'sensor_msgs/msg/Image'."""
    try:
        pkg, _, name = msgtype.split('/')
        return getattr(importlib.import_module(f'{pkg}.msg'), name)
    except (ValueError, ImportError, AttributeError) as exc:
        raise LookupError(f'message type {msgtype} is not available to rclpy ({exc})') from None


def has_header(msgtype: str) -> bool:
    """Tell whether the type's first field is a std_msgs/Header (its stamp can be shifted).

    False for a type the typestore does not know.
    """
    defs = make_typestore().fielddefs.get(msgtype)
    fields = defs[1] if defs else []
    return bool(fields) and fields[0][0] == 'header' and fields[0][1][1] == 'std_msgs/msg/Header'


class BagReplay:
    """Publishes one bag's messages on their topics with the bag's timing."""

    def __init__(self, node, bag: str | Path, rate: float = 1.0, loop: bool = False,
                 topics: list[str] | None = None, restamp: bool = False,
                 skew: dict[str, float] | None = None, camera_qos_kind: str = 'sensor_data',
                 skip_bad: bool = False, warn=warn_stderr, clock_hz: float = 0.0,
                 align_ns: int = 0) -> None:
        if rate <= 0:
            raise ValueError(f'rate must be > 0, got {rate}')
        if clock_hz < 0:
            raise ValueError(f'clock_hz must be >= 0 (0 = no /clock), got {clock_hz}')
        if align_ns < 0:
            raise ValueError(f'align_ns must be >= 0 (0 = no alignment), got {align_ns}')
        self.node, self.bag, self.rate, self.loop = node, Path(bag), rate, loop
        self.restamp = restamp
        # restamp: start up to align_ns later so that the stamp shift is a multiple of it, and
        # the stamps fall in the same map_rate slots on every run (0 = start at once)
        self.align_ns = int(align_ns)
        self.skew_ns = {
            ('/' + ns.strip('/') + '/'): int(round(s * 1e9)) for ns, s in (skew or {}).items()
        }
        self.published = 0
        self.offset_ns = 0  # stamp shift of the current pass (restamp)
        self.sent_at: dict[
            int, int
        ] = {}  # bag time (ns) -> wall time it was published (last pass)
        self.source = BagSource(self.bag, skip_bad=skip_bad, warn=warn)
        wanted = list(topics) if topics else sorted(self.source.topics)
        missing = [t for t in wanted if t not in self.source.topics]
        if missing and (not skip_bad or len(missing) == len(wanted)):
            raise BagError(
                f'{self.bag}: topic(s) {missing} not in the bag; '
                f'it has {sorted(self.source.topics)}'
                + (f'; {SKIP_HINT}' if len(missing) < len(wanted) else '')
            )
        if missing:
            warn(f'{self.bag}: topic(s) {missing} not in the bag; playing the others (--skip-bad)')
        self.start_ns, self.end_ns = self.source.start_ns, self.source.end_ns
        self.publishers = {}
        self.stampable: dict[str, bool] = {}
        for topic in wanted:
            msgtype = self.source.topics.get(topic)
            if msgtype is None:
                continue
            try:
                cls = message_class(msgtype)
            except LookupError as exc:
                if not skip_bad:
                    raise BagError(f'{self.bag}: topic {topic}: {exc}; {SKIP_HINT}') from None
                warn(f'{self.bag}: topic {topic}: {exc}; not played (--skip-bad)')
                continue
            qos = (
                camera_qos(camera_qos_kind)
                if topic.endswith(CAMERA_SUFFIXES)
                else tf_qos(static=topic == '/tf_static')
                if msgtype == TF_TYPE
                else result_qos()
            )
            self.publishers[topic] = node.create_publisher(cls, topic, qos)
            self.stampable[msgtype] = has_header(msgtype)
        if not self.publishers:
            raise BagError(f'{self.bag}: none of its topics can be played')
        self.clock_period = 1.0 / clock_hz if clock_hz else 0.0
        self.clock_publisher = None
        if clock_hz:
            self.clock_publisher = node.create_publisher(Clock, CLOCK_TOPIC, CLOCK_QOS)

    @property
    def topics(self) -> list[str]:
        return sorted(self.publishers)

    @property
    def input_topics(self) -> list[str]:
        """Return the played topics a ready graph reads: camera images and TF (the pose)."""
        return [t for t in self.topics
                if t.endswith(('/camera/image_raw', '/camera/image_raw/compressed'))
                or t in ('/tf', '/tf_static')]

    def play(self, stop: threading.Event | None = None, progress: bool = True,
             start_wall_ns: int | None = None) -> int:
        """Publish the bag (again and again with loop) until done or `stop` is set.

        Returns the messages sent. start_wall_ns: wall time (time.time_ns) of the first message,
        for replays in several processes that must share their timing and restamp offset;
        default now.
        """
        stop = stop or threading.Event()
        while not stop.is_set():
            self._play_once(stop, progress, start_wall_ns)
            start_wall_ns = None
            if not self.loop:
                break
        return self.published

    def _play_once(self, stop: threading.Event, progress: bool,
                   start_wall_ns: int | None = None) -> None:
        wall0 = start_wall_ns or time.time_ns()
        if self.restamp and self.align_ns > 0:
            wall0 = self.start_ns - (self.start_ns - wall0) // self.align_ns * self.align_ns
        self.sent_at = {}
        self.offset_ns = wall0 - self.start_ns if self.restamp else 0
        span = max(1, self.end_ns - self.start_ns)
        last_report = 0.0
        self._publish_clock(self.start_ns)
        for m in self.source.messages(self.publishers):
            due = wall0 + (m.log_time - self.start_ns) / self.rate
            while not stop.is_set():
                wait = (due - time.time_ns()) / 1e9
                if wait <= 0:
                    break
                stop.wait(min(wait, self.clock_period or 0.1))
                played_ns = int((time.time_ns() - wall0) * self.rate)
                self._publish_clock(min(m.log_time, self.start_ns + played_ns))
            if stop.is_set():
                return
            self._publish_clock(m.log_time)
            self.sent_at.setdefault(m.log_time, time.time_ns())
            self.publishers[m.topic].publish(bytes(self._stamped(m.topic, m.msgtype, m.data)))
            self.published += 1
            now = time.monotonic()
            if progress and now - last_report > 2.0:
                last_report = now
                print(
                    f'replay: {100 * (m.log_time - self.start_ns) / span:5.1f}% '
                    f'of {self.bag.name}, '
                    f'{self.published} messages',
                    file=sys.stderr,
                )

    def _publish_clock(self, bag_time_ns: int) -> None:
        """Publish a bag time on /clock (moved like the stamps with restamp), if asked to."""
        if self.clock_publisher is not None:
            sec, nanosec = divmod(bag_time_ns + self.offset_ns, 10**9)
            self.clock_publisher.publish(Clock(clock=TimeMsg(sec=sec, nanosec=nanosec)))

    def writes(self, topic: str) -> bool:
        """Whether this replay has a writer on `topic` (a bag topic, or /clock with clock_hz)."""
        if topic == CLOCK_TOPIC:
            return self.clock_publisher is not None
        return topic in self.publishers

    def matched(self, topic: str) -> int:
        """Count the subscriptions the DDS writer of `topic` is matched with.

        Matched, not just seen in the graph: messages published before the match completes are
        lost for volatile subscribers.
        """
        if topic == CLOCK_TOPIC and self.clock_publisher is not None:
            return self.clock_publisher.get_subscription_count()
        return self.publishers[topic].get_subscription_count()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until reliable subscribers acknowledged everything sent (before the node goes)."""
        from rclpy.duration import Duration
        ok = True
        for pub in self.publishers.values():
            try:
                ok &= bool(pub.wait_for_all_acked(Duration(seconds=timeout)))
            except Exception:  # noqa: BLE001 - best-effort publishers cannot be acked
                pass
        return ok

    def _stamped(self, topic: str, msgtype: str, raw: bytes) -> bytes | bytearray:
        offset = self.offset_ns
        for prefix, skew in self.skew_ns.items():
            if topic.startswith(prefix) or topic == prefix[:-1]:
                offset += skew
        if offset and msgtype == TF_TYPE:
            return shift_tf_stamps(raw, offset)
        if offset and self.stampable[msgtype]:
            return shift_stamp(raw, offset)
        return raw


def wait_for_subscribers(
    node, topics: list[str], timeout: float, replay: BagReplay | None = None
) -> list[str]:
    """Wait until every topic has a subscriber; return those still without one.

    Matched with the replay's writer where it plays the topic; on /clock matched with every
    reader the graph shows, so no node misses the first time.
    """
    deadline = time.monotonic() + timeout

    def unmatched(topic: str) -> bool:
        if replay is None or not replay.writes(topic):
            return node.count_subscribers(topic) == 0
        if topic == CLOCK_TOPIC:
            return replay.matched(topic) < max(1, node.count_subscribers(topic))
        return replay.matched(topic) == 0

    while True:
        missing = [t for t in topics if unmatched(t)]
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(0.1)
