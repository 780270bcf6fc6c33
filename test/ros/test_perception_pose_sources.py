"""Where the perception node takes its camera pose (its own process, real DDS, real tf2).

- 'tf': the body pose on /tf at two stamps and the gimbal mount on /tf_static; an image stamped
  between them is placed at the interpolated body pose composed with the mount (the BevFeature's
  camera_pose says where the node put the camera);
- 'odometry': nav_msgs/Odometry of the body plus the same /tf_static mount.
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
FRAME, BODY = 'uav1/camera_optical_frame', 'uav1/base_link'


def scene():
    """One simulated view: image, K, and its camera pose split into a level body and a mount."""
    from rsdfm_core.geometry import level_body_pose
    from rsdfm_core.world import Simulator, WorldConfig

    view = next(iter(Simulator(WorldConfig(seed=5, drones=1, dense_gt=False, width=W,
                                           height=H)).frames(1))).views[0]
    body = level_body_pose(view.cam_to_map)
    return view, body, np.linalg.inv(body) @ view.cam_to_map


def transform(T, stamp_ns: int, parent: str, child: str):
    from geometry_msgs.msg import TransformStamped

    from rsdfm_ros.conversions import matrix_to_pose, ns_to_stamp
    pose = matrix_to_pose(T)
    t = TransformStamped(child_frame_id=child)
    t.header.stamp, t.header.frame_id = ns_to_stamp(stamp_ns), parent
    t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (
        pose.position.x, pose.position.y, pose.position.z)
    t.transform.rotation = pose.orientation
    return t


def moved(T, dx: float):
    out = T.copy()
    out[0, 3] += dx
    return out


@pytest.mark.parametrize('source', ['tf', 'odometry'])
def test_camera_pose_from_tf_or_odometry(tmp_path, rclpy_context, source):
    from geometry_msgs.msg import PoseWithCovariance
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import CameraInfo, Image
    from tf2_ros import StaticTransformBroadcaster, TransformBroadcaster

    from rsdfm_bringup.runner import GraphRunner
    from rsdfm_core.graph import fleet_graph
    from rsdfm_msgs.msg import BevFeature
    from rsdfm_ros.conversions import (
        matrix_to_pose,
        ns_to_stamp,
        pose_to_matrix,
        rgb_to_image,
        stamp_to_ns,
    )
    from rsdfm_ros.qos import camera_qos

    view, body, mount = scene()
    runner = GraphRunner(fleet_graph(namespaces=['uav1'], parameters={
        'threads': 1, 'pose_wait': 1.0, 'image_qos': 'reliable', 'pose_source': source}),
        log_dir=tmp_path / 'logs', env=ros_test_env())
    runner.start([NODE])
    probe = Probe(rclpy_context, {'/uav1/rsdfm/bev_feature': BevFeature}, name='pose_source_probe')
    node = probe.node
    qos = camera_qos('reliable', depth=50)
    image_pub = node.create_publisher(Image, '/uav1/camera/image_raw', qos)
    info_pub = node.create_publisher(CameraInfo, '/uav1/camera/camera_info', qos)
    odom_pub = node.create_publisher(Odometry, '/uav1/odom', qos)
    static = StaticTransformBroadcaster(node)
    dynamic = TransformBroadcaster(node)
    try:
        wait_for(lambda: not runner.exited() and image_pub.get_subscription_count() >= 1
                 and node.count_subscribers('/tf_static') >= 1, timeout=90, interval=0.1,
                 message='perception node listening to TF and the camera')
        static.sendTransform(transform(mount, 0, BODY, FRAME))
        t0 = time.time_ns()
        # body moves 4 m along x in 0.1 s (poses within pose_tolerance of the image are
        # interpolated)
        t1, mid = t0 + 100_000_000, t0 + 50_000_000
        for stamp, T in ((t0, body), (t1, moved(body, 4.0))):
            if source == 'tf':
                dynamic.sendTransform(transform(T, stamp, 'map', BODY))
            else:
                odom = Odometry(
                    child_frame_id=BODY, pose=PoseWithCovariance(pose=matrix_to_pose(T))
                )
                odom.header.stamp, odom.header.frame_id = ns_to_stamp(stamp), 'map'
                odom_pub.publish(odom)
        info = CameraInfo(width=W, height=H, distortion_model='plumb_bob', d=[0.0] * 5)
        info.header.stamp, info.header.frame_id = ns_to_stamp(mid), FRAME
        info.k = view.K.reshape(9).astype(float)
        info_pub.publish(info)
        image_pub.publish(rgb_to_image(view.image, mid, FRAME))
        got = wait_for(lambda: [m for m in probe.get('/uav1/rsdfm/bev_feature')
                                if stamp_to_ns(m.header.stamp) == mid], timeout=60, interval=0.05,
                       message=f'a map placed with the {source} pose')
        expected = moved(body, 2.0) @ mount                    # halfway between the two stamps
        np.testing.assert_allclose(pose_to_matrix(got[0].camera_pose), expected, atol=1e-4)
    finally:
        probe.close()
        runner.stop(timeout=20)
