"""Per-node health figures on /diagnostics, and one log line per kind of refused input.

Every rsdfm node owns one `NodeDiagnostics`: it counts what came in and went out, times the
processing and the end-to-end latency from the source image stamp, counts refused inputs by
reason, counts the messages that never reached it (gaps in a publisher's sequence numbers: a
queue that overflowed while the node was busy, a sample the link dropped), and publishes a
diagnostic_msgs/DiagnosticArray once a second. A refused input is logged the first time its
reason occurs (not once per message), so a drone with a bad clock does not flood the log.
"""
from __future__ import annotations

import collections
import statistics
import threading
import time
from typing import Any, Callable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from rsdfm_ros.qos import result_qos


class NodeDiagnostics:
    """Counters, latencies and refusals of one node, published on /diagnostics."""

    def __init__(self, node: Node, period: float = 1.0, window: int = 50,
                 warn_hold: float = 10.0) -> None:
        self.node = node
        # WARN while refusals or losses are recent (within warn_hold s), OK again once they stop;
        # the refused.<reason> and lost.<topic> counters keep their totals either way.
        self.warn_hold = warn_hold
        self._last_trouble: float | None = None
        self.name = node.get_fully_qualified_name()
        self.refused: collections.Counter[str] = collections.Counter()
        self.received = 0
        self.lost: collections.Counter[str] = collections.Counter()  # topic -> messages lost
        self.published = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.extra: dict[str, str] = {}
        self.local_inputs = 0       # inputs handed on in this process: always connected
        self._processing = collections.deque(maxlen=window)
        self._processing_cpu = collections.deque(maxlen=window)
        self._cpu_started: dict[int, float] = {}      # thread -> its CPU time at start()
        self._e2e = collections.deque(maxlen=window)
        self._pub_times = collections.deque(maxlen=window)
        self._pub = node.create_publisher(DiagnosticArray, '/diagnostics', result_qos())
        self._timer = node.create_timer(period, self.publish)

    def received_input(self, nbytes: int = 0) -> None:
        self.received += 1
        self.bytes_in += int(nbytes)

    def refuse(self, reason: str, detail: str) -> None:
        """Count a refused input; log it the first time this reason occurs."""
        if self.refused[reason] == 0:
            self.node.get_logger().warning(
                f'refusing input ({reason}): {detail}; '
                f'further refusals of this kind are only counted on /diagnostics'
            )
        self.refused[reason] += 1
        self._last_trouble = time.monotonic()

    def counting_losses(self, topic: str, callback: Callable[[Any], None]
                        ) -> Callable[[Any, dict], None]:
        """Wrap a subscription callback for `topic`, counting the messages that never reached it.

        rclpy passes each message's MessageInfo to a callback of two arguments; a gap in a
        publisher's sequence numbers is messages lost on the way: a reader queue that overflowed
        while the node was busy, a best-effort sample the link dropped, a reliable repair that
        came too late. Counted on /diagnostics (lost, lost.<topic>), logged the first time.
        """
        last_seq: dict[bytes, int] = {}

        def take(msg: Any, info: dict) -> None:
            gid, seq = bytes(info['publisher_gid']['data']), info['publication_sequence_number']
            if seq is not None:
                gap = seq - last_seq.get(gid, seq - 1) - 1
                last_seq[gid] = max(seq, last_seq.get(gid, seq))
                if gap > 0:
                    self.count_lost(topic, gap)
            callback(msg)

        return take

    def count_lost(self, topic: str, n: int) -> None:
        """Count `n` messages of `topic` lost before this node could take them."""
        if not self.lost[topic]:
            self.node.get_logger().warning(
                f'{n} message(s) on {topic} lost before this node could take them; further '
                'losses are only counted on /diagnostics')
        self.lost[topic] += int(n)
        self._last_trouble = time.monotonic()

    def start(self) -> float:
        """Mark that this thread starts processing an input; return time.perf_counter().

        output() then also records the thread's CPU time since (processing_cpu_ms_median). The
        wall time beyond it is time the node waited for a core or a lock, not work: on a
        ground station with fewer cores than busy nodes the two differ.
        """
        self._cpu_started[threading.get_ident()] = time.thread_time()
        return time.perf_counter()

    def output(self, stamp_ns: int, started: float, nbytes: int = 0) -> None:
        """Record one published output.

        Its source stamp, and when processing started (start(), or time.perf_counter).
        """
        self.published += 1
        self.bytes_out += int(nbytes)
        self._processing.append(time.perf_counter() - started)
        cpu_started = self._cpu_started.pop(threading.get_ident(), None)
        if cpu_started is not None:
            self._processing_cpu.append(time.thread_time() - cpu_started)
        self._e2e.append(time.time_ns() - int(stamp_ns))
        self._pub_times.append(time.monotonic())

    def rate(self) -> float:
        """Return outputs per second over the recent window."""
        t = self._pub_times
        if len(t) < 2 or time.monotonic() - t[-1] > 5.0:
            return 0.0
        return (len(t) - 1) / max(t[-1] - t[0], 1e-9)

    def inputs_matched(self) -> str:
        """'k/n': how many of this node's n subscriptions are matched with a publisher."""
        subs = list(self.node.subscriptions)
        matched = sum(1 for sub in subs if sub.get_publisher_count() > 0)
        return f'{matched + self.local_inputs}/{len(subs) + self.local_inputs}'

    def status(self) -> DiagnosticStatus:
        """Return the current figures as one DiagnosticStatus."""
        values = {
            'rate_hz': f'{self.rate():.2f}',
            'received': str(self.received),
            'published': str(self.published),
            'bytes_in': str(self.bytes_in),
            'bytes_out': str(self.bytes_out),
            'bytes_out_per_output': str(self.bytes_out // max(1, self.published)),
            'processing_ms_median': _median_ms(self._processing, 1e3),
            # CPU time of the processing thread (with threads > 1 the model's other threads
            # are not counted)
            'processing_cpu_ms_median': _median_ms(self._processing_cpu, 1e3),
            'e2e_latency_ms_median': _median_ms(self._e2e, 1e-6),
            'e2e_latency_ms_last': f'{self._e2e[-1] * 1e-6:.1f}' if self._e2e else 'nan',
            'refused_total': str(sum(self.refused.values())),
            'lost': str(sum(self.lost.values())),
            # Subscriptions matched with at least one publisher (reader side of DDS discovery), as
            # k/n: a graph is ready for data only once every node reads all its inputs.
            'inputs_matched': self.inputs_matched(),
        }
        values.update({f'refused.{k}': str(v) for k, v in sorted(self.refused.items())})
        values.update({f'lost.{k}': str(v) for k, v in sorted(self.lost.items())})
        values.update(self.extra)
        recent = (self._last_trouble is not None
                  and time.monotonic() - self._last_trouble <= self.warn_hold)
        level = DiagnosticStatus.WARN if recent else DiagnosticStatus.OK
        trouble = {**self.refused, **({'lost': sum(self.lost.values())} if self.lost else {})}
        message = (f'refusing or losing input: {trouble} so far' if recent
                   else f'ok (before: {trouble})' if trouble else 'ok')
        return DiagnosticStatus(level=level, name=self.name, message=message, hardware_id='rsdfm',
                                values=[KeyValue(key=k, value=v) for k, v in values.items()])

    def publish(self) -> None:
        msg = DiagnosticArray()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.status = [self.status()]
        self._pub.publish(msg)


def _median_ms(values, scale: float) -> str:
    return f'{statistics.median(values) * scale:.1f}' if values else 'nan'


def diagnostic_values(status: DiagnosticStatus) -> dict[str, str]:
    """Return a DiagnosticStatus's key/values as a dict (for tools and tests)."""
    return {kv.key: kv.value for kv in status.values}
