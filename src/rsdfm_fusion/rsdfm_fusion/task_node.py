"""task_node: any new BEV task's layer from the fused fleet map, given its head file.

A new task is a head trained at the ground station (`rsdfm train-head`) and this node started
with `task:=NAME` (and `head:=FILE` for one not shipped): no drone software changes. Publishes
rsdfm/task/<task> (nav_msgs/OccupancyGrid on the fusion grid: OCCUPIED (100) = the layer,
0 = not, -1 = a cell no drone saw). A head trained with history (train-head --history) gets the
fused map of its history_s before as well; until one that old has come the node publishes
nothing for the task (counted as waiting_for_history on /diagnostics).
"""
from __future__ import annotations

import array

from nav_msgs.msg import OccupancyGrid
import numpy as np

from rsdfm_core.messages import OCCUPIED, UNKNOWN
from rsdfm_ros.conversions import grid_to_fields
from rsdfm_ros.fused_map_node import FusedMapNode
from rsdfm_ros.node_support import check, declare, run_node, SettingError
from rsdfm_ros.qos import result_qos


class TaskNode(FusedMapNode):

    def __init__(self, **options) -> None:
        super().__init__('task_node', **options)
        from rsdfm_core.tasks.head import TaskPredictor
        from rsdfm_core.tasks.layers import TASKS

        task = declare(self, 'task', 'road', 'task whose layer this node publishes: one of '
                       + ', '.join(TASKS) + ' (or the task of the head file)')
        head = declare(self, 'head', '', 'task head file (rsdfm train-head); empty = the head '
                       'shipped for the task')
        threshold = declare(self, 'threshold', 0.5,
                            'probability from which a cell is in the layer')
        check(0.0 < threshold < 1.0, f'threshold must be in (0, 1), got {threshold!r}')
        try:
            self.predictor = TaskPredictor(self.rt, head or None, None if head else task,
                                           threshold)
        except ValueError as exc:
            raise SettingError(f'parameter head/task: {exc}') from None
        self.task = self.predictor.task
        self.pub = self.create_publisher(OccupancyGrid, f'rsdfm/task/{self.task}', result_qos())
        self.diag.extra['task'] = self.task
        self.waiting_for_history = 0         # fused maps that had no map history_s before them
        self.get_logger().info(f'task {self.task}: publishing rsdfm/task/{self.task}')
        self.start()

    def on_map(self, msg, fused, stamp_ns: int, started: float) -> None:
        try:
            layer = self.predictor.layer_at(stamp_ns, fused.features)
        except ValueError as exc:
            self.diag.refuse('bad_payload', str(exc))
            return
        if layer is None:
            self.waiting_for_history += 1
            self.diag.extra['waiting_for_history'] = str(self.waiting_for_history)
            return
        grid = OccupancyGrid(header=msg.header)
        origin, res, rows, cols = grid_to_fields(fused.grid)
        grid.info.map_load_time = msg.header.stamp
        grid.info.resolution, grid.info.width, grid.info.height, grid.info.origin = (
            res, cols, rows, origin)
        cells = layer.astype(np.int8) * OCCUPIED
        if len(msg.coverage) == rows * cols:          # cells no drone saw are unknown, not free
            unseen = np.frombuffer(memoryview(msg.coverage), np.uint8).reshape(rows, cols) == 0
            cells[unseen] = UNKNOWN
        grid.data = array.array('b', cells.tobytes())
        sent = self.publish_counted(self.pub, grid)
        self.diag.extra['layer_share_last'] = f'{float(layer.mean()):.3f}'
        self.diag.output(stamp_ns, started, sent)


def main(args=None) -> int:
    return run_node(TaskNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
