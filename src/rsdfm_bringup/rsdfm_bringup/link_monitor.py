"""The ground station's view of its radio links, published on /diagnostics once a second.

One DiagnosticStatus per drone link (`<node>: link <drone>`): whether the link interface is up
(`operstate`), how often it lost carrier (`carrier_changes`), its byte counters, and the
outages seen in the data (LinkHealth: the drone's own /diagnostics not heard for a while).
Interfaces are read from /sys/class/net of the namespace the node runs in.
"""
from __future__ import annotations

from pathlib import Path
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from rsdfm_bringup.link_health import drone_of_status, LinkHealth
from rsdfm_ros.qos import result_qos

SYS_NET = Path('/sys/class/net')


def interface_facts(device: str) -> dict[str, str]:
    """operstate, carrier_changes and byte counters of a network interface ({} if it is gone)."""
    base = SYS_NET / device
    try:
        facts = {'operstate': (base / 'operstate').read_text().strip(),
                 'carrier_changes': (base / 'carrier_changes').read_text().strip()}
        for key in ('rx_bytes', 'tx_bytes', 'tx_dropped'):
            facts[key] = (base / 'statistics' / key).read_text().strip()
    except OSError:
        return {}
    return facts


class LinkMonitor:
    """Watches the drones' links from `node`: interface per drone, outages from /diagnostics."""

    def __init__(self, node: Node, links: dict[str, str], silence_s: float = 2.5) -> None:
        self.node, self.links = node, dict(links)
        self.health = {d: LinkHealth(d, silence_s) for d in links}
        self.name = node.get_fully_qualified_name()
        self._pub = node.create_publisher(DiagnosticArray, '/diagnostics', result_qos())
        node.create_subscription(DiagnosticArray, '/diagnostics', self.on_diagnostics,
                                 result_qos(depth=100))
        node.create_timer(1.0, self.publish)

    def on_diagnostics(self, msg: DiagnosticArray) -> None:
        now = time.monotonic()
        for status in msg.status:
            drone = drone_of_status(status.name, list(self.health))
            if drone and self.health[drone].heard(now):
                self.node.get_logger().info(f'link {drone}: heard again')

    def status(self, drone: str, now: float) -> DiagnosticStatus:
        h = self.health[drone]
        facts = interface_facts(self.links[drone])
        down = facts.get('operstate') != 'up' or h.in_outage
        values = {'interface': self.links[drone], **facts, 'outages': str(h.outages),
                  'silent_s': f'{h.silent_s(now):.1f}',
                  'longest_silence_s': f'{h.longest_silence_s:.1f}'}
        return DiagnosticStatus(
            level=DiagnosticStatus.WARN if down else DiagnosticStatus.OK,
            name=f'{self.name}: link {drone}', hardware_id='rsdfm',
            message='down' if down else 'up',
            values=[KeyValue(key=k, value=v) for k, v in values.items()])

    def publish(self) -> None:
        now = time.monotonic()
        for drone, h in self.health.items():
            if h.check(now):
                self.node.get_logger().warning(f'link {drone}: silent for {h.silence_s:g} s')
        msg = DiagnosticArray()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.status = [self.status(d, now) for d in self.health]
        self._pub.publish(msg)
