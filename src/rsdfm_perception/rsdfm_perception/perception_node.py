"""perception_node: one drone's camera image and pose in, its compressed BEV feature map out.

Runs in the drone's namespace (/uavN). Subscribes to camera/image_raw (or, with
image_transport 'compressed', camera/image_raw/compressed) and camera/camera_info; takes the
camera pose at each image's capture stamp from TF (default), camera/pose or odom plus the TF
mount (rsdfm_perception.pose_source); undistorts the image with the CameraInfo lens model; runs
the drone side of the model (rsdfm_core DroneEncoder) with a codec budget that fits max_bitrate
when one is set, and publishes rsdfm/bev_feature with the image stamp. Images without a pose
within `pose_tolerance` (or without camera info) are refused, counted on /diagnostics, and
logged once per kind. Camera input is checked with rsdfm_core.validation first (encoding, step
and data length, the size CameraInfo gives; an invertible pinhole K and a known lens model;
finite poses with unit quaternions; at encode time a camera above the ground looking down).
Anything else is refused with its reason code, and the node keeps running.
"""
from __future__ import annotations

import collections
import math
import time

from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry
import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from rsdfm_core.camera import CameraModel
from rsdfm_core.link_budget import bytes_per_map, DEFAULT_RATE_HZ, StampRate
from rsdfm_core.map_rate import MapRateGate
from rsdfm_core.model.engine import DRONE_PARTS
from rsdfm_core.model.runtime import DroneEncoder
from rsdfm_core.regions import grid_around_aim
from rsdfm_core.validation import check_camera_pose, check_image, pose_matrix_checked, Refusal
from rsdfm_msgs.msg import BevFeature
from rsdfm_perception.pose_buffer import Lookup, PoseBuffer
from rsdfm_perception.pose_source import POSE_SOURCES, TfPoses
from rsdfm_ros.camera_bridge import camera_rgb
from rsdfm_ros.conversions import (
    camera_model,
    ConversionError,
    encoded_to_feature,
    stamp_to_ns,
)
from rsdfm_ros.diagnostics import NodeDiagnostics
from rsdfm_ros.node_support import check, declare, load_runtime, run_node
from rsdfm_ros.qos import camera_qos, CAMERA_QOS_CHOICES, feature_qos

IMAGE_TRANSPORTS = ('raw', 'compressed')


class PerceptionNode(Node):

    def __init__(self) -> None:
        super().__init__('perception_node')
        self.rt = load_runtime(self, DRONE_PARTS)
        topk = declare(
            self, 'codec_topk', 0, 'high-frequency cells sent per map; 0 = model default'
        )
        bits = declare(self, 'codec_bits', 0, 'quantisation bits 1..8; 0 = model default')
        self.bev_range = float(
            declare(
                self,
                'bev_range',
                0.0,
                'metres of ground the drone map covers, centred where the camera looks; '
                '0 = the whole fusion region of the model',
            )
        )
        self.tolerance_ns = int(1e9 * declare(self, 'pose_tolerance', 0.06,
                                              's: an image needs a pose this close to its stamp'))
        self.pose_wait = float(
            declare(
                self,
                'pose_wait',
                2.0,
                's of wall time an image may wait for a pose after its stamp (or camera '
                'info) before it is refused; generous, as a busy node reads poses late',
            )
        )
        ns = self.get_namespace().strip('/')
        self.agent_id = (
            declare(self, 'agent_id', '', 'drone name in the features; empty = namespace')
            or ns
            or self.get_name()
        )
        qos_kind = declare(
            self, 'image_qos', 'sensor_data', f'QoS of the camera inputs: {CAMERA_QOS_CHOICES}'
        )
        self.max_bitrate = int(
            declare(
                self,
                'max_bitrate',
                0,
                'bit/s this drone may send on its link; 0 = no limit '
                '(codec_topk/codec_bits as given). '
                'The codec budget is chosen per frame to fit it; settable at run time '
                '(ros2 param set), taking effect on the next frame',
            )
        )
        map_rate = float(declare(
            self, 'map_rate', 0.0,
            'maps per second this drone sends; 0 = one per image. For a computer that cannot '
            'encode every image: the first image of each 1/map_rate s slot of capture time is '
            'mapped, slots counted from stamp 0, so every drone maps the same instants and the '
            'latency stays that of one image; settable at run time'))
        self.link_overhead = float(declare(
            self, 'link_overhead', 0.05,
            "share of the link's bits taken by RTPS/UDP/IP headers, 0 <= value < 1"))
        self.pose_source = declare(
            self,
            'pose_source',
            'tf',
            "camera pose: 'tf' (map -> camera optical frame from /tf and /tf_static at the image "
            "stamp), 'topic' (PoseStamped of the optical frame on camera/pose) or 'odometry' "
            '(nav_msgs/Odometry of the body on odom, '
            'with the body -> camera mount from /tf_static)',
        )
        self.camera_frame = declare(self, 'camera_frame', '',
                                    "TF frame of the camera's optical frame; empty = the image's "
                                    'header.frame_id')
        self.world_frame = declare(self, 'world_frame', 'map',
                                   'fixed frame the maps are placed in (REP-105 map)')
        transport = declare(self, 'image_transport', 'raw',
                            "camera stream: 'raw' (sensor_msgs/Image on camera/image_raw) or "
                            "'compressed' (sensor_msgs/CompressedImage, JPEG or PNG, on "
                            'camera/image_raw/compressed, as image_transport names it)')
        check(
            isinstance(topk, int) and topk >= 0,
            f'codec_topk must be an integer >= 0, got {topk!r}',
        )
        check(
            isinstance(bits, int) and 0 <= bits <= 8,
            f'codec_bits must be 0 (default) or 1..8, got {bits!r}',
        )
        check(self.bev_range >= 0, f'bev_range must be >= 0, got {self.bev_range}')
        check(math.isfinite(map_rate) and map_rate >= 0,
              f'map_rate must be >= 0 Hz, got {map_rate:g}')
        check(self.max_bitrate >= 0, f'max_bitrate must be >= 0 bit/s, got {self.max_bitrate}')
        check(0 <= self.link_overhead < 1,
              f'link_overhead must be in [0, 1), got {self.link_overhead:g}')
        check(self.tolerance_ns > 0, 'pose_tolerance must be > 0')
        check(self.pose_wait > 0, 'pose_wait must be > 0')
        check(
            qos_kind in CAMERA_QOS_CHOICES,
            f'image_qos must be one of {CAMERA_QOS_CHOICES}, got {qos_kind!r}',
        )
        check(self.pose_source in POSE_SOURCES,
              f'pose_source must be one of {POSE_SOURCES}, got {self.pose_source!r}')
        check(transport in IMAGE_TRANSPORTS,
              f'image_transport must be one of {IMAGE_TRANSPORTS}, got {transport!r}')
        budget = {k: v for k, v in (('topk', topk), ('bits', bits)) if v}
        self.encoder = DroneEncoder(self.rt, budget=budget)
        self.budget = self.encoder.budget              # the budget when the link sets no limit
        self.map_gate = MapRateGate(map_rate)
        self.frame_rate = StampRate(default_hz=map_rate or DEFAULT_RATE_HZ)
        self.camera: CameraModel | None = None            # intrinsics, lens, size of camera_info
        self.poses = PoseBuffer()                          # 'topic': camera, 'odometry': body
        self.body_frame = ''                               # child frame of the odometry
        self.tf = TfPoses(self, self.world_frame) if self.pose_source != 'topic' else None
        # (image msg, arrival monotonic) waiting for their pose
        self.pending: collections.deque = collections.deque(maxlen=10)
        self.diag = NodeDiagnostics(self)
        self.diag.extra['agent_id'] = self.agent_id
        self.diag.extra['model_id'] = self.rt.model_id
        self.pub = self.create_publisher(BevFeature, 'rsdfm/bev_feature', feature_qos())
        # Subscriptions last: a subscriber on camera/image_raw means this node is ready to work.
        qos = camera_qos(qos_kind)
        self.create_subscription(CameraInfo, 'camera/camera_info', self.on_info, qos)
        if self.pose_source == 'topic':
            self.create_subscription(PoseStamped, 'camera/pose', self.on_pose,
                                     camera_qos(qos_kind, depth=50))
        elif self.pose_source == 'odometry':
            self.create_subscription(
                Odometry, 'odom', self.on_odometry, camera_qos(qos_kind, depth=50)
            )
        if transport == 'compressed':
            self.create_subscription(
                CompressedImage, 'camera/image_raw/compressed',
                self.diag.counting_losses('camera/image_raw/compressed', self.on_image), qos)
        else:
            self.create_subscription(
                Image, 'camera/image_raw',
                self.diag.counting_losses('camera/image_raw', self.on_image), qos)
        self.add_on_set_parameters_callback(self.on_set_parameters)
        self.create_timer(0.05, self.process_pending)
        self.get_logger().info(
            f'agent {self.agent_id}: {self.encoder.payload_size()} bytes per map'
        )

    def on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """Run-time changes: max_bitrate, link_overhead and map_rate hold from the next image."""
        for p in params:
            if p.name == 'map_rate':
                try:
                    self.map_gate.set_rate(p.value)
                except ValueError:
                    return SetParametersResult(
                        successful=False, reason=f'map_rate must be >= 0 Hz, got {p.value!r}')
                self.frame_rate = StampRate(default_hz=float(p.value) or DEFAULT_RATE_HZ)
            if p.name == 'max_bitrate':
                if not isinstance(p.value, int) or p.value < 0:
                    return SetParametersResult(
                        successful=False, reason=f'max_bitrate must be an integer >= 0 bit/s, '
                                                 f'got {p.value!r}')
                self.max_bitrate = p.value
            elif p.name == 'link_overhead':
                if not isinstance(p.value, float) or not 0 <= p.value < 1:
                    return SetParametersResult(
                        successful=False,
                        reason=f'link_overhead must be in [0, 1), got {p.value!r}',
                    )
                self.link_overhead = float(p.value)
        return SetParametersResult(successful=True)

    def frame_budget(self) -> dict | None:
        """Return the codec budget of the next map: the configured one or what fits max_bitrate."""
        if self.max_bitrate <= 0:
            return self.budget
        limit = bytes_per_map(self.max_bitrate, self.frame_rate.hz(), self.link_overhead)
        self.diag.extra['max_bytes_per_map'] = str(limit)
        g = self.encoder.grid if self.bev_range <= 0 else None
        rows, cols = (g.rows, g.cols) if g else self._local_shape()
        return self.rt.net.codec.budget_for_bytes(rows, cols, limit, self.budget['bits'],
                                                  max_topk=self.budget['topk'])

    def _local_shape(self) -> tuple[int, int]:
        cells = int(round(self.bev_range / self.rt.region.resolution))
        return cells, cells

    def on_info(self, msg: CameraInfo) -> None:
        try:
            self.camera = camera_model(msg)
        except ConversionError as exc:
            self.diag.refuse(exc.reason, str(exc))
            return
        self.process_pending()

    def on_pose(self, msg: PoseStamped) -> None:
        if msg.header.frame_id not in ('map', '/map'):
            self.diag.refuse(
                'pose_frame', f"pose in frame {msg.header.frame_id[:64]!r}, expected 'map'"
            )
            return
        p, q = msg.pose.position, msg.pose.orientation
        T = pose_matrix_checked((p.x, p.y, p.z), (q.x, q.y, q.z, q.w), 'camera pose')
        if not isinstance(T, np.ndarray):
            self.diag.refuse(T.reason, T.detail)
            return
        self.poses.add(stamp_to_ns(msg.header.stamp), T)
        self.process_pending()

    def on_odometry(self, msg: Odometry) -> None:
        if msg.header.frame_id.lstrip('/') != self.world_frame:
            self.diag.refuse('pose_frame', f'odometry in frame {msg.header.frame_id[:64]!r}, '
                                           f'expected {self.world_frame!r}')
            return
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        T = pose_matrix_checked((p.x, p.y, p.z), (q.x, q.y, q.z, q.w), 'odometry pose')
        if not isinstance(T, np.ndarray):
            self.diag.refuse(T.reason, T.detail)
            return
        self.body_frame = msg.child_frame_id
        self.poses.add(stamp_to_ns(msg.header.stamp), T)
        self.process_pending()

    def camera_pose(self, msg, stamp: int, final: bool) -> np.ndarray | Lookup | Refusal:
        """Return the optical frame's pose in the world frame at the image stamp (pose_source)."""
        if self.pose_source == 'topic':
            return self.poses.lookup(stamp, self.tolerance_ns, final=final)
        frame = self.camera_frame or msg.header.frame_id
        if self.pose_source == 'tf':
            return self.tf.lookup(frame, stamp, self.tolerance_ns, final)
        body = self.poses.lookup(stamp, self.tolerance_ns, final=final)
        if not isinstance(body, np.ndarray):
            return body
        mount = self.tf.between(self.body_frame, frame, stamp, self.tolerance_ns, final)
        return body @ mount if isinstance(mount, np.ndarray) else mount

    def on_image(self, msg: Image | CompressedImage) -> None:
        self.diag.received_input(len(msg.data))
        if isinstance(msg, Image):          # raw images are checked before they wait for a pose
            size = (self.camera.width, self.camera.height) if self.camera else None
            refusal = check_image(msg.encoding, int(msg.width), int(msg.height), int(msg.step),
                                  len(msg.data), size)
            if refusal is not None:
                self.diag.refuse(refusal.reason, refusal.detail)
                return
        if not self.map_gate.admit(stamp_to_ns(msg.header.stamp)):
            self.diag.extra['skipped_for_map_rate'] = str(self.map_gate.skipped)
            return
        self.pending.append((msg, time.monotonic()))
        self.process_pending()

    def process_pending(self) -> None:
        """Encode every waiting image whose pose is known; refuse those that waited too long."""
        while self.pending:
            msg, arrived = self.pending[0]
            final = time.monotonic() - arrived > self.pose_wait
            stamp = stamp_to_ns(msg.header.stamp)
            pose = self.camera_pose(msg, stamp, final)
            if pose is Lookup.WAIT or (self.camera is None and not final):
                return
            self.pending.popleft()
            if self.camera is None:
                self.diag.refuse('no_camera_info', 'no camera_info received before the image')
            elif isinstance(pose, Refusal):
                self.diag.refuse(pose.reason, f'{pose.detail} (image stamp {stamp / 1e9:.3f})')
            elif pose is Lookup.MISSING:
                self.diag.refuse(
                    'no_pose',
                    f'no pose within {self.tolerance_ns / 1e9:g} s of image stamp '
                    f'{stamp / 1e9:.3f} (newest pose {(self.poses.newest() or 0) / 1e9:.3f})',
                )
            else:
                self.encode_and_publish(msg, stamp, pose)

    def encode_and_publish(self, msg: Image | CompressedImage, stamp: int,
                           cam_to_map: np.ndarray) -> None:
        started = self.diag.start()
        refusal = check_camera_pose(cam_to_map)
        if refusal is not None:
            self.diag.refuse(refusal.reason, f'{refusal.detail} (image stamp {stamp / 1e9:.3f})')
            return
        try:
            rgb = camera_rgb(msg, self.camera)
        except ConversionError as exc:
            self.diag.refuse(exc.reason, f'{exc} (image stamp {stamp / 1e9:.3f})')
            return
        self.frame_rate.add(stamp)
        budget = self.frame_budget()
        if budget is None:
            self.diag.refuse(
                'link_too_narrow',
                f'max_bitrate {self.max_bitrate:g} bit/s leaves no '
                f'room for a map (image stamp {stamp / 1e9:.3f})',
            )
            return
        self.diag.extra['budget'] = f"topk={budget['topk']} bits={budget['bits']}"
        try:
            encoder = self._encoder(budget, cam_to_map)
            m = encoder.encode(rgb, self.camera.matrix, cam_to_map)
        except (ValueError, RuntimeError) as exc:
            self.diag.refuse('encode_error', f'image stamp {stamp / 1e9:.3f}: {exc}')
            return
        self.pub.publish(encoded_to_feature(m, self.agent_id, stamp, cam_to_map, self.rt.model_id))
        self.diag.output(stamp, started, len(m.payload))

    def _encoder(self, budget: dict, cam_to_map: np.ndarray) -> DroneEncoder:
        """Return the encoder for this frame's budget.

        When bev_range is set, its grid is bev_range metres wide, centred where the optical axis
        meets the ground.
        """
        if self.bev_range <= 0 and budget == self.encoder.budget:
            return self.encoder
        grid = (self.encoder.grid if self.bev_range <= 0 else
                grid_around_aim(cam_to_map, self.bev_range, self.rt.region.resolution))
        return DroneEncoder(self.rt, budget=budget, bev_grid=grid)


def main(args=None) -> int:
    return run_node(PerceptionNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
