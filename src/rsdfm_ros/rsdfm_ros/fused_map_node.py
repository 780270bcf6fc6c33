"""Task nodes' shared input side: subscribe to /rsdfm/fused_bev, check it, rebuild a FusedMap."""
from __future__ import annotations

import time

from rclpy.node import Node

from rsdfm_msgs.msg import FusedBev
from rsdfm_ros.conversions import ConversionError, fields_to_grid, stamp_to_ns
from rsdfm_ros.diagnostics import NodeDiagnostics
from rsdfm_ros.node_support import load_runtime
from rsdfm_ros.qos import feature_qos


class FusedMapNode(Node):
    """Base of the detection/segmentation/trajectory nodes.

    It calls handle() with each usable fused map.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.rt = load_runtime(self)
        self.diag = NodeDiagnostics(self)

    def start(self) -> None:
        """Subscribe last, once the node's own parameters and publishers exist.

        Subscribed means ready.
        """
        self.create_subscription(
            FusedBev, 'rsdfm/fused_bev',
            self.diag.counting_losses('rsdfm/fused_bev', self.on_fused), feature_qos())

    def on_fused(self, msg: FusedBev) -> None:
        from rsdfm_core.model.runtime import fused_from_payload, PayloadError

        started = time.perf_counter()
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

    def on_map(self, msg: FusedBev, fused, stamp_ns: int, started: float) -> None:
        raise NotImplementedError
