"""The perception node fed as a real drone feeds it (its own process, real DDS).

JPEG images on camera/image_raw/compressed through a distorting lens described in CameraInfo; a
corrupt JPEG is refused and counted while good frames keep coming; the link's bit rate set at run
time (max_bitrate, the way `ros2 param set` sets it) makes the next maps fit the link, and a bad
value is refused by the parameter service; with map_rate set (at run time too), the node maps
only the first image of each slot of capture time.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from graph_support import isolate_this_process, Probe
from helpers import ros_test_env, wait_for

isolate_this_process()

W, H = 320, 240
NODE = '/uav1/perception_node'
PERIOD_NS = 100_000_000          # 10 Hz capture stamps


class CompressedDrone:
    """A perception node with image_transport=compressed and the test's camera publishers."""

    def __init__(self, tmp, context):
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseStamped
        from sensor_msgs.msg import CameraInfo, CompressedImage

        from rsdfm_bringup.runner import GraphRunner
        from rsdfm_core.camera import CameraModel, distort, EXAMPLE_DISTORTION
        from rsdfm_core.graph import fleet_graph
        from rsdfm_core.world import Simulator, WorldConfig
        from rsdfm_msgs.msg import BevFeature
        from rsdfm_ros.qos import camera_qos

        view = next(iter(Simulator(WorldConfig(seed=5, drones=1, dense_gt=False, width=W,
                                               height=H)).frames(1))).views[0]
        self.D = EXAMPLE_DISTORTION['plumb_bob']
        self.K, self.pose = view.K, view.cam_to_map
        self.rgb = distort(
            view.image, CameraModel(tuple(view.K.ravel()), self.D, 'plumb_bob', W, H)
        )
        graph = fleet_graph(
            namespaces=['uav1'],
            parameters={
                'threads': 1,
                'pose_wait': 0.5,
                'image_qos': 'reliable',
                'image_transport': 'compressed',
                'pose_source': 'topic',
            },
        )
        self.runner = GraphRunner(graph, log_dir=tmp / 'logs', env=ros_test_env())
        self.runner.start([NODE])
        self.probe = Probe(context, {'/uav1/rsdfm/bev_feature': BevFeature,
                                     '/diagnostics': DiagnosticArray}, name='camera_stream_probe')
        qos = camera_qos('reliable', depth=50)
        node = self.probe.node
        self.image = node.create_publisher(
            CompressedImage, '/uav1/camera/image_raw/compressed', qos
        )
        self.info = node.create_publisher(CameraInfo, '/uav1/camera/camera_info', qos)
        self.pose_pub = node.create_publisher(PoseStamped, '/uav1/camera/pose', qos)
        wait_for(
            lambda: (
                not self.runner.exited()
                and all(
                    p.get_subscription_count() >= 1 for p in (self.image, self.info, self.pose_pub)
                )
            ),
            timeout=90,
            interval=0.1,
            message='perception node subscribed to the compressed stream',
        )

    def send(self, stamp: int, jpeg: bytes | None = None) -> None:
        import cv2
        from geometry_msgs.msg import PoseStamped
        from sensor_msgs.msg import CameraInfo, CompressedImage

        from rsdfm_ros.conversions import bytes_to_uint8_array, matrix_to_pose, ns_to_stamp
        frame = 'uav1/camera_optical_frame'
        pose = PoseStamped(pose=matrix_to_pose(self.pose))
        pose.header.stamp, pose.header.frame_id = ns_to_stamp(stamp), 'map'
        info = CameraInfo(width=W, height=H, distortion_model='plumb_bob', d=list(self.D))
        info.header.stamp, info.header.frame_id = ns_to_stamp(stamp), frame
        info.k = np.asarray(self.K, np.float64).reshape(9)
        if jpeg is None:
            ok, data = cv2.imencode('.jpg', cv2.cvtColor(self.rgb, cv2.COLOR_RGB2BGR))
            jpeg = data.tobytes()
        image = CompressedImage(
            format='rgb8; jpeg compressed bgr8', data=bytes_to_uint8_array(jpeg)
        )
        image.header.stamp, image.header.frame_id = ns_to_stamp(stamp), frame
        self.pose_pub.publish(pose)
        self.info.publish(info)
        self.image.publish(image)

    def features_at(self, stamp: int) -> list:
        from rsdfm_ros.conversions import stamp_to_ns
        return [m for m in self.probe.get('/uav1/rsdfm/bev_feature')
                if stamp_to_ns(m.header.stamp) == stamp]

    def refused(self, reason: str) -> int:
        return int(self.probe.diagnostics(NODE).get(f'refused.{reason}', 0))

    def set_parameter(self, name: str, value) -> bool:
        """Call the node's SetParameters service (as `ros2 param set` does); True if accepted."""
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        client = self.probe.node.create_client(SetParameters, f'{NODE}/set_parameters')
        wait_for(lambda: client.service_is_ready(), timeout=30, interval=0.1,
                 message='parameter service of the perception node')
        future = client.call_async(SetParameters.Request(
            parameters=[Parameter(name, value=value).to_parameter_msg()]))
        wait_for(future.done, timeout=30, interval=0.05, message=f'set {name}')
        self.probe.node.destroy_client(client)
        return bool(future.result().results[0].successful)

    def close(self) -> None:
        self.probe.close()
        self.runner.stop(timeout=20)


@pytest.fixture(scope='module')
def drone(tmp_path_factory, module_rclpy_context):
    d = CompressedDrone(tmp_path_factory.mktemp('camera_stream'), module_rclpy_context)
    try:
        yield d
    finally:
        d.close()


def test_compressed_distorted_stream_is_encoded_and_corrupt_jpeg_refused(drone):
    stamp = time.time_ns()
    drone.send(stamp)
    wait_for(
        lambda: drone.features_at(stamp), timeout=60, interval=0.05, message='map of a JPEG frame'
    )
    bad = stamp + PERIOD_NS
    drone.send(bad, jpeg=b'\xff\xd8 this is not a JPEG')
    wait_for(lambda: drone.refused('image_decode') >= 1, timeout=30, interval=0.1,
             message='refused.image_decode on /diagnostics')
    good = bad + PERIOD_NS
    drone.send(good)
    wait_for(
        lambda: drone.features_at(good), timeout=30, interval=0.05, message='good frame after it'
    )
    assert not drone.features_at(bad) and not drone.runner.exited()


def test_max_bitrate_set_at_run_time_fits_the_next_maps(drone):
    from rsdfm_core.link_budget import bytes_per_map

    stamp = time.time_ns()
    for i in range(3):  # a few frames at 10 Hz: the rate is measured
        drone.send(stamp + i * PERIOD_NS)
        wait_for(lambda: drone.features_at(stamp + i * PERIOD_NS), timeout=30, interval=0.05,
                 message='unconstrained map')
    unconstrained = len(drone.features_at(stamp)[0].payload)
    assert drone.set_parameter('max_bitrate', 2_000_000)
    limit = bytes_per_map(2_000_000, 10.0, 0.05)
    assert limit < unconstrained, 'the link must be narrower than the default budget'
    nxt = stamp + 3 * PERIOD_NS
    drone.send(nxt)
    wait_for(
        lambda: drone.features_at(nxt), timeout=30, interval=0.05, message='map under the limit'
    )
    size = len(drone.features_at(nxt)[0].payload)
    assert limit * 0.9 < size <= limit, (size, limit)
    assert not drone.set_parameter('max_bitrate', -5)
    assert drone.set_parameter('max_bitrate', 0)
    last = nxt + PERIOD_NS
    drone.send(last)
    wait_for(
        lambda: drone.features_at(last), timeout=30, interval=0.05, message='map after lifting it'
    )
    assert len(drone.features_at(last)[0].payload) == unconstrained


def test_map_rate_maps_the_first_image_of_each_slot_and_counts_the_rest(drone):
    """10 Hz images at map_rate 2.5 (set at run time): the first of each 400 ms slot is mapped.

    Each slot's first image is sent alone and its map awaited, then the slot's other three, so
    the node's reader (keep-last 10) never holds more than a few images at once.
    """
    from rsdfm_ros.conversions import stamp_to_ns

    slot = 4 * PERIOD_NS
    assert not drone.set_parameter('map_rate', -2.5)
    assert drone.set_parameter('map_rate', 2.5)
    first = (time.time_ns() // slot + 1) * slot
    before = int(drone.probe.diagnostics(NODE).get('skipped_for_map_rate', 0))
    for k in range(4):
        start = first + k * slot
        drone.send(start)
        wait_for(lambda: drone.features_at(start), timeout=60, interval=0.05,
                 message=f'map of the first image of slot {k}')
        for i in range(1, 4):
            drone.send(start + i * PERIOD_NS)
    last = first + 4 * slot                           # its map comes after the skipped ones
    drone.send(last)
    wait_for(lambda: drone.features_at(last), timeout=60, interval=0.05,
             message='map of the first image of slot 4')
    mapped = sorted(stamp_to_ns(m.header.stamp) for m in drone.probe.get('/uav1/rsdfm/bev_feature')
                    if stamp_to_ns(m.header.stamp) >= first)
    assert mapped == [first + k * slot for k in range(5)]
    wait_for(lambda: drone.probe.diagnostics(NODE).get('skipped_for_map_rate') == str(before + 12),
             timeout=30, interval=0.1, message='12 images skipped, on /diagnostics')
    assert drone.set_parameter('map_rate', 0.0)      # every image again
    nxt = last + PERIOD_NS
    drone.send(nxt)
    wait_for(lambda: drone.features_at(nxt), timeout=30, interval=0.05,
             message='map of the next image of the slot with map_rate 0')
    assert not drone.runner.exited()
