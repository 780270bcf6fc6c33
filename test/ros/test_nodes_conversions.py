"""Message conversions of the nodes, without a running graph: round trips and clear refusals."""
import numpy as np
import pytest

from rsdfm_core.geometry import BevGrid, look_at_optical
from rsdfm_core.types import ObjectState


def test_pose_grid_and_box_round_trips():
    from rsdfm_ros.conversions import (detection_to_object, fields_to_grid, grid_to_fields, matrix_to_pose,
                                          object_to_detection, pose_to_matrix)
    from rsdfm_msgs.msg import FusedBev

    T = look_at_optical(np.array([10.0, -20.0, 80.0]), np.array([0.0, 5.0, 0.0]))
    assert np.allclose(pose_to_matrix(matrix_to_pose(T)), T, atol=1e-9)
    grid = BevGrid.centred(3.0, -4.0, 64.0, 32.0, 0.5, yaw=0.3)
    msg = FusedBev()
    msg.grid_origin, msg.resolution, msg.rows, msg.cols = grid_to_fields(grid)
    back = fields_to_grid(msg)
    assert np.allclose(back.grid_to_map(), grid.grid_to_map(), atol=1e-6) and (back.rows, back.cols) == (64, 128)
    o = ObjectState(7, 'bus', 1.0, 2.0, 1.6, 12.0, 2.6, 3.2, -2.5, 3.0, -1.0, 0.8)
    r = detection_to_object(object_to_detection(o))
    assert (r.track_id, r.label) == (7, 'bus')
    assert np.allclose([r.x, r.y, r.z, r.length, r.width, r.height, r.yaw, r.vx, r.vy, r.score],
                       [o.x, o.y, o.z, o.length, o.width, o.height, o.yaw, o.vx, o.vy, o.score], atol=1e-6)


def test_images_in_rgb8_bgr8_with_row_padding():
    from rsdfm_ros.conversions import bytes_to_uint8_array, image_to_rgb, rgb_to_image

    rgb = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    assert np.array_equal(image_to_rgb(rgb_to_image(rgb, 5, 'cam')), rgb)
    msg = rgb_to_image(rgb, 5, 'cam')
    padded = np.zeros((5, 24), np.uint8)
    padded[:, :21] = rgb[..., ::-1].reshape(5, 21)
    msg.encoding, msg.step, msg.data = 'bgr8', 24, bytes_to_uint8_array(padded.tobytes())
    assert np.array_equal(image_to_rgb(msg), rgb)


def test_bad_messages_are_refused_with_the_reason():
    from geometry_msgs.msg import Pose, Quaternion
    from sensor_msgs.msg import CameraInfo, Image

    from rsdfm_ros.conversions import ConversionError, camera_info_to_K, image_to_rgb, pose_to_matrix

    with pytest.raises(ConversionError, match="encoding 'mono8'"):
        image_to_rgb(Image(height=2, width=2, encoding='mono8', step=2))
    with pytest.raises(ConversionError, match='does not fit'):
        image_to_rgb(Image(height=4, width=4, encoding='rgb8', step=12))
    with pytest.raises(ConversionError, match='not a pinhole'):
        camera_info_to_K(CameraInfo())
    with pytest.raises(ConversionError, match='not a valid transform'):
        pose_to_matrix(Pose(orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=0.0)))
