"""Bad camera input over real DDS: the perception node refuses it and keeps running.

The perception node (its own process, /uav1) refuses images with a wrong encoding, a wrong step
or a size that does not match CameraInfo, CameraInfo with a singular K, and poses that are not
finite, not unit quaternions, under the ground or looking at the sky; each is counted per reason
on /diagnostics and logged once, the node keeps running, and a good image sent right after still
gives its BevFeature.

One perception process serves the whole module; each test is one kind of bad input.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from graph_support import isolate_this_process, Probe
from helpers import ros_test_env, wait_for

isolate_this_process()

W, H = 160, 120
NODE = '/uav1/perception_node'


class Drone:
    """A perception node process and the camera publishers of the test (reliable QoS)."""

    def __init__(self, tmp, context):
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseStamped
        from sensor_msgs.msg import CameraInfo, Image

        from rsdfm_bringup.runner import GraphRunner
        from rsdfm_core.graph import fleet_graph
        from rsdfm_core.world.config import WorldConfig
        from rsdfm_core.world.simulator import Simulator
        from rsdfm_msgs.msg import BevFeature
        from rsdfm_ros.qos import camera_qos

        self.tmp = tmp
        view = next(
            iter(
                Simulator(WorldConfig(seed=5, drones=1, dense_gt=False, width=W, height=H)).frames(
                    1
                )
            )
        ).views[0]
        self.rgb, self.K, self.pose = view.image, view.K, view.cam_to_map
        graph = fleet_graph(
            namespaces=['uav1'],
            parameters={
                'threads': 1,
                'pose_wait': 0.5,
                'image_qos': 'reliable',
                'pose_source': 'topic',
            },
        )
        self.runner = GraphRunner(graph, log_dir=tmp / 'logs', env=ros_test_env())
        self.runner.start([NODE])
        self.probe = Probe(
            context,
            {'/uav1/rsdfm/bev_feature': BevFeature, '/diagnostics': DiagnosticArray},
            name='bad_input_perception_probe',
        )
        node = self.probe.node
        qos = camera_qos('reliable', depth=50)
        self.image = node.create_publisher(Image, '/uav1/camera/image_raw', qos)
        self.info = node.create_publisher(CameraInfo, '/uav1/camera/camera_info', qos)
        self.pose_pub = node.create_publisher(PoseStamped, '/uav1/camera/pose', qos)
        wait_for(
            lambda: (
                not self.runner.exited()
                and all(
                    p.get_subscription_count() >= 1 for p in (self.image, self.info, self.pose_pub)
                )
                and self.probe.node.count_publishers('/uav1/rsdfm/bev_feature') >= 1
            ),
            timeout=90,
            interval=0.1,
            message='perception node subscribed to its camera topics',
        )

    # --- messages --------------------------------------------------------------------------------
    def image_msg(self, stamp: int, rgb=None):
        from rsdfm_ros.conversions import rgb_to_image
        return rgb_to_image(self.rgb if rgb is None else rgb, stamp, 'uav1/camera_optical_frame')

    def info_msg(self, stamp: int, K=None, size=(W, H)):
        from sensor_msgs.msg import CameraInfo

        from rsdfm_ros.conversions import ns_to_stamp
        msg = CameraInfo(width=size[0], height=size[1], distortion_model='plumb_bob')
        msg.header.stamp, msg.header.frame_id = ns_to_stamp(stamp), 'uav1/camera_optical_frame'
        msg.k = np.asarray(self.K if K is None else K, dtype=np.float64).reshape(9)
        return msg

    def pose_msg(self, stamp: int, T=None):
        from geometry_msgs.msg import PoseStamped

        from rsdfm_ros.conversions import matrix_to_pose, ns_to_stamp
        msg = PoseStamped(pose=matrix_to_pose(self.pose if T is None else T))
        msg.header.stamp, msg.header.frame_id = ns_to_stamp(stamp), 'map'
        return msg

    def send(self, stamp: int, image=None, info=None, pose=None) -> None:
        """One camera frame: pose, camera info, then the image (each good unless given)."""
        self.pose_pub.publish(pose if pose is not None else self.pose_msg(stamp))
        self.info.publish(info if info is not None else self.info_msg(stamp))
        self.image.publish(image if image is not None else self.image_msg(stamp))

    # --- what came out ---------------------------------------------------------------------------
    def refused(self, reason: str) -> int:
        return int(self.probe.diagnostics(NODE).get(f'refused.{reason}', 0))

    def features_at(self, stamp: int) -> list:
        from rsdfm_ros.conversions import stamp_to_ns

        return [
            m
            for m in self.probe.get('/uav1/rsdfm/bev_feature')
            if stamp_to_ns(m.header.stamp) == stamp
        ]

    def close(self):
        self.probe.close()
        self.runner.stop(timeout=20)


@pytest.fixture(scope='module')
def drone(tmp_path_factory, module_rclpy_context):
    d = Drone(tmp_path_factory.mktemp('bad_perception'), module_rclpy_context)
    try:
        stamp = time.time_ns()
        d.send(stamp)                          # a good frame first: the node is warm and has a K
        wait_for(lambda: d.features_at(stamp), timeout=60, interval=0.05, message='first good map')
        yield d
    finally:
        d.close()


def _look(drone, target_z: float, camera_z: float = 80.0):
    from rsdfm_core.geometry import look_at_optical
    return look_at_optical(np.array([0.0, -60.0, camera_z]), np.array([0.0, 0.0, target_z]))


def _wrong_encoding(d, s):
    msg = d.image_msg(s)
    msg.encoding = 'yuv422'      # mono8 is a camera encoding the node accepts
    d.send(s, image=msg)


def _wrong_step(d, s):
    msg = d.image_msg(s)
    msg.step = 3 * W - 12
    d.send(s, image=msg)


def _size_not_matching_info(d, s):
    d.send(
        s, image=d.image_msg(s, d.rgb[::2, ::2].copy())
    )  # 80x60 image, camera_info says 160x120


def _singular_K(d, s):
    K = np.array([[100.0, 100.0, 80.0], [100.0, 100.0, 80.0], [0.0, 0.0, 1.0]])
    d.info.publish(d.info_msg(s, K=K))


def _nan_pose(d, s):
    msg = d.pose_msg(s)
    msg.pose.position.z = float('nan')
    d.pose_pub.publish(msg)


def _non_unit_quaternion(d, s):
    msg = d.pose_msg(s)
    msg.pose.orientation.x, msg.pose.orientation.w = 0.5, 2.0
    d.pose_pub.publish(msg)


def _under_ground(d, s):
    d.send(s, pose=d.pose_msg(s, _look(d, -40.0, camera_z=-5.0)))


def _looking_at_sky(d, s):
    d.send(s, pose=d.pose_msg(s, _look(d, 300.0)))


BAD = {
    'wrong_encoding': ('image_encoding', _wrong_encoding),
    'wrong_step': ('image_step', _wrong_step),
    'size_not_matching_camera_info': ('image_size', _size_not_matching_info),
    'singular_K': ('camera_info', _singular_K),
    'nan_pose': ('pose_not_finite', _nan_pose),
    'non_unit_quaternion': ('quaternion_not_unit', _non_unit_quaternion),
    'camera_under_ground': ('camera_under_ground', _under_ground),
    'camera_looking_at_sky': ('camera_looks_at_sky', _looking_at_sky),
}


@pytest.mark.parametrize('kind', list(BAD))
def test_bad_camera_input_is_refused_and_good_images_still_encoded(drone, kind):
    reason, send_bad = BAD[kind]
    before = drone.refused(reason)
    bad_stamp = time.time_ns()
    send_bad(drone, bad_stamp)
    wait_for(lambda: drone.refused(reason) >= before + 1, timeout=30, interval=0.1,
             message=f'/diagnostics counting refused.{reason} ({kind})')
    good_stamp = time.time_ns()
    drone.send(good_stamp)
    wait_for(
        lambda: drone.features_at(good_stamp),
        timeout=30,
        interval=0.05,
        message=f'good image encoded ({kind})',
    )
    assert not drone.features_at(bad_stamp) or reason in (
        'camera_info',
        'pose_not_finite',
        'quaternion_not_unit',
    )
    assert not drone.runner.exited(), drone.runner.exited()
    log = (drone.tmp / 'logs' / 'uav1.perception_node.log').read_text()
    assert log.count(f'refusing input ({reason})') == 1, log[-3000:]
