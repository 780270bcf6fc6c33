"""Task nodes' shared input side: subscribe to /rsdfm/fused_bev, check it, rebuild a FusedMap.

In the one-process ground station the fusion node of the same process hands each fused map on
in memory instead (deliver()): no serialization, no copy, no payload decoding. The node keeps
only the newest undelivered map, as the topic's keep-last reader would, and counts the ones it
had to skip on /diagnostics (lost.rsdfm/fused_bev).
"""
from __future__ import annotations

import threading
from typing import Callable

from rclpy.node import Node
from rclpy.serialization import serialize_message

from rsdfm_msgs.msg import FusedBev
from rsdfm_ros.conversions import ConversionError, fields_to_grid, stamp_to_ns
from rsdfm_ros.diagnostics import NodeDiagnostics
from rsdfm_ros.node_support import load_runtime
from rsdfm_ros.qos import feature_qos


class FusedMapNode(Node):
    """Base of the detection/segmentation/trajectory nodes.

    It calls handle() with each usable fused map.
    """

    def __init__(self, name: str, fused_source=None,
                 engine_parts: tuple[str, ...] | Callable[[Node], tuple[str, ...]] = (),
                 **options) -> None:
        super().__init__(name, **options)
        # engine_parts: the head(s) it runs; a head's input is the fusion region, one size,
        # and runs 1.15-1.4x faster in onnxruntime here (rsdfm bench, "Ground station parts").
        # A callable gets the node first, to choose them by its own parameters.
        parts = engine_parts(self) if callable(engine_parts) else engine_parts
        self.rt = load_runtime(self, parts, default_engine='onnxruntime')
        self.diag = NodeDiagnostics(self)
        self.fused_source = fused_source      # a FusionNode in this process, or None: the topic
        self._handed: tuple | None = None     # (FusedBev, FusedMap) delivered, not yet taken
        self._hand_lock = threading.Lock()

    def start(self) -> None:
        """Subscribe last, once the node's own parameters and publishers exist.

        Subscribed means ready. With a fusion node in this process, attach to it instead.
        """
        if self.fused_source is not None:
            self._hand_guard = self.create_guard_condition(self._take_handed)
            self.diag.local_inputs += 1
            self.fused_source.local_readers.append(self)
            return
        self.create_subscription(
            FusedBev, 'rsdfm/fused_bev',
            self.diag.counting_losses('rsdfm/fused_bev', self.on_fused), feature_qos())

    def on_fused(self, msg: FusedBev) -> None:
        from rsdfm_core.model.runtime import fused_from_payload, PayloadError

        started = self.diag.start()
        self.diag.received_input(len(msg.payload))
        if msg.model_id != self.rt.model_id:
            self.diag.refuse(
                'model_id',
                f'fused map of model {msg.model_id!r}, this node runs {self.rt.model_id!r}',
            )
            return
        try:
            fused = fused_from_payload(
                fields_to_grid(msg), int(msg.channels), bytes(msg.payload), list(msg.agents)
            )
        except (PayloadError, ConversionError) as exc:
            self.diag.refuse('bad_payload', str(exc))
            return
        self.on_map(msg, fused, stamp_to_ns(msg.header.stamp), started)

    def deliver(self, msg: FusedBev, fused) -> None:
        """Take a fused map from the fusion node of this process (called in its thread).

        The map is processed in this node's own callback, so the fusion node goes on with the
        next frame meanwhile; a map still waiting is replaced and counted as lost.
        """
        with self._hand_lock:
            skipped, self._handed = self._handed is not None, (msg, fused)
        if skipped:
            self.diag.count_lost('rsdfm/fused_bev', 1)
        self._hand_guard.trigger()

    def _take_handed(self) -> None:
        with self._hand_lock:
            handed, self._handed = self._handed, None
        if handed is None:
            return
        msg, fused = handed
        self.diag.received_input(fused.features.nbytes)
        self.on_map(msg, fused, stamp_to_ns(msg.header.stamp), self.diag.start())

    def on_map(self, msg: FusedBev, fused, stamp_ns: int, started: float) -> None:
        raise NotImplementedError

    @staticmethod
    def publish_counted(publisher, msg) -> int:
        """Publish msg serialized once; return its bytes, which /diagnostics reports.

        Publishing the bytes converts the message no second time, as counting them apart did.
        """
        data = serialize_message(msg)
        publisher.publish(data)
        return len(data)
