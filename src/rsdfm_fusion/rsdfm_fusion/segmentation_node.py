"""segmentation_node: BEV vehicle mask and instance ids from the fused fleet map.

Publishes rsdfm/segmentation (nav_msgs/OccupancyGrid on the fusion grid, so rviz2 draws it in
place: OCCUPIED (100) = vehicle, 0 = free, -1 = unknown, a cell no drone saw) and
rsdfm/instances (sensor_msgs/Image mono16 instance ids, row 0 at the grid origin, rows along the
grid's +y axis).
"""
from __future__ import annotations

import array

from nav_msgs.msg import OccupancyGrid
import numpy as np
from sensor_msgs.msg import Image

from rsdfm_core.messages import OCCUPIED, UNKNOWN
from rsdfm_ros.conversions import bytes_to_uint8_array, grid_to_fields
from rsdfm_ros.fused_map_node import FusedMapNode
from rsdfm_ros.node_support import run_node
from rsdfm_ros.qos import result_qos


class SegmentationNode(FusedMapNode):

    def __init__(self, **options) -> None:
        super().__init__('segmentation_node', engine_parts=('seg_head',), **options)
        from rsdfm_core.model.runtime import TaskHeads

        self.heads = TaskHeads(self.rt)
        self.grid_pub = self.create_publisher(OccupancyGrid, 'rsdfm/segmentation', result_qos())
        self.inst_pub = self.create_publisher(Image, 'rsdfm/instances', result_qos())
        self.start()

    def on_map(self, msg, fused, stamp_ns: int, started: float) -> None:
        semantic, instances = self.heads.segment(fused)
        grid = OccupancyGrid(header=msg.header)
        origin, res, rows, cols = grid_to_fields(fused.grid)
        grid.info.map_load_time = msg.header.stamp
        grid.info.resolution, grid.info.width, grid.info.height, grid.info.origin = (
            res,
            cols,
            rows,
            origin,
        )
        cells = np.asarray(semantic, np.int8) * OCCUPIED
        if len(msg.coverage) == rows * cols:          # cells no drone saw are unknown, not free
            unseen = np.frombuffer(memoryview(msg.coverage), np.uint8).reshape(rows, cols) == 0
            cells[unseen] = UNKNOWN
        grid.data = array.array('b', cells.tobytes())
        sent = self.publish_counted(self.grid_pub, grid)
        inst = Image(
            header=msg.header,
            height=rows,
            width=cols,
            encoding='mono16',
            is_bigendian=0,
            step=2 * cols,
        )
        inst.data = bytes_to_uint8_array(np.ascontiguousarray(instances, dtype='<u2').tobytes())
        sent += self.publish_counted(self.inst_pub, inst)
        self.diag.extra['instances_last'] = str(int(instances.max()) if instances.size else 0)
        self.diag.output(stamp_ns, started, sent)


def main(args=None) -> int:
    return run_node(SegmentationNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
