"""task_node (its own process, real DDS) publishes a new task's layer from the fused map.

Started from the fleet description with a head file (what `tasks:=` does in the launch file), it
reads /rsdfm/fused_bev and publishes /rsdfm/task/<task> as an OccupancyGrid on the fusion grid:
100 where the head says the layer is, -1 where no drone saw; a fused map of another model is
refused and counted, and the node goes on. A second task node runs a head with history: it
publishes nothing for the first map and, for the map 0.5 s later, the layer of both.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from graph_support import isolate_this_process, Probe
from helpers import wait_for

isolate_this_process()


def _fused(rt, stamp_ns: int, model_id: str | None = None):
    from rsdfm_core.model.runtime import fused_to_payload, FusedMap
    from rsdfm_msgs.msg import FusedBev
    from rsdfm_ros.conversions import bytes_to_uint8_array, grid_to_fields, ns_to_stamp

    g = rt.region
    features = np.zeros((rt.config['model']['fused_channels'], g.rows, g.cols), np.float16)
    features[0, :, : g.cols // 2] = 1.0            # the left half "looks like" the layer
    msg = FusedBev()
    msg.header.stamp, msg.header.frame_id = ns_to_stamp(stamp_ns), 'map'
    msg.grid_origin, msg.resolution, msg.rows, msg.cols = grid_to_fields(g)
    msg.channels, msg.agents, msg.model_id = features.shape[0], ['uav1'], model_id or rt.model_id
    msg.payload = bytes_to_uint8_array(fused_to_payload(FusedMap(features, g)))
    coverage = np.ones((g.rows, g.cols), np.uint8)
    coverage[: g.rows // 4] = 0                     # the first rows no drone saw
    msg.coverage = bytes_to_uint8_array(coverage.tobytes())
    return msg


def _head_file(rt, path):
    """Write a head whose layer is exactly where fused channel 0 is positive."""
    from rsdfm_core.tasks.head import save_head, TaskHead

    head = TaskHead(rt.config['model']['fused_channels'])
    convs = [m for m in head.net if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        for conv in convs:
            conv.weight.zero_()
            conv.bias.zero_()
        convs[0].weight[0, 0, 1, 1] = 10.0            # channel 0 through the centre taps only
        for conv in convs[1:-1]:
            conv.weight[0, 0, 1, 1] = 1.0
        convs[-1].weight[0, 0] = 1.0
        convs[-1].bias[0] = -5.0
    save_head(path, head, 'building', rt.model_id)
    return path


def test_task_node_publishes_the_layer_where_drones_saw(tmp_path, rclpy_context, ros_env):
    from diagnostic_msgs.msg import DiagnosticArray
    from nav_msgs.msg import OccupancyGrid

    from rsdfm_bringup.runner import GraphRunner
    from rsdfm_core.graph import fleet_graph
    from rsdfm_core.model.runtime import Runtime
    from rsdfm_msgs.msg import FusedBev
    from rsdfm_ros.conversions import stamp_to_ns
    from rsdfm_ros.qos import result_qos

    from rsdfm_core.tasks.head import save_head, TaskHead

    rt = Runtime.load(None, threads=1)
    head = _head_file(rt, tmp_path / 'building.pt')
    with_history = tmp_path / 'stationary.pt'
    save_head(with_history, TaskHead(2 * rt.config['model']['fused_channels']), 'stationary',
              rt.model_id, {'history_s': 0.5})
    graph = fleet_graph(namespaces=['uav1'], parameters={'threads': 1},
                        tasks=f'building={head},stationary={with_history}')
    runner = GraphRunner(graph, log_dir=tmp_path / 'logs', env=ros_env)
    runner.start(['/building_task_node', '/stationary_task_node'])
    probe = Probe(rclpy_context, {'/rsdfm/task/building': OccupancyGrid,
                                  '/rsdfm/task/stationary': OccupancyGrid,
                                  '/diagnostics': DiagnosticArray})
    maps = probe.node.create_publisher(FusedBev, '/rsdfm/fused_bev', result_qos())
    try:
        def ready():
            assert not runner.exited(), f'node died; logs in {tmp_path / "logs"}'
            return (maps.get_subscription_count() >= 2
                    and probe.node.count_publishers('/rsdfm/task/building') >= 1
                    and probe.node.count_publishers('/rsdfm/task/stationary') >= 1)
        wait_for(ready, timeout=90, interval=0.2, message='task node subscribed and publishing')
        stamp = time.time_ns()
        half_s = 500_000_000
        maps.publish(_fused(rt, stamp - half_s - 1, model_id='0123456789abcdef'))  # other model
        maps.publish(_fused(rt, stamp - half_s))
        wait_for(lambda: probe.diagnostics('/stationary_task_node').get('waiting_for_history')
                 == '1', timeout=30, interval=0.1, message='the history head waiting')
        maps.publish(_fused(rt, stamp))
        wait_for(lambda: len(probe.get('/rsdfm/task/building')) >= 2, timeout=30, interval=0.1,
                 message='two building layers')
        wait_for(lambda: probe.get('/rsdfm/task/stationary'), timeout=30, interval=0.1,
                 message='a stationary layer from the maps 0.5 s apart')
        assert [stamp_to_ns(g.header.stamp) for g in probe.get('/rsdfm/task/stationary')] == [
            stamp]
        grid = probe.get('/rsdfm/task/building')[-1]
        assert stamp_to_ns(grid.header.stamp) == stamp and grid.header.frame_id == 'map'
        rows, cols = grid.info.height, grid.info.width
        cells = np.array(grid.data, np.int8).reshape(rows, cols)
        assert (cells[: rows // 4] == -1).all()                       # unseen: unknown
        seen = cells[rows // 4:]
        assert (seen[:, 1: cols // 2 - 1] == 100).all() and (seen[:, cols // 2 + 1:] == 0).all()
        wait_for(lambda: probe.diagnostics('/building_task_node').get('refused.model_id') == '1',
                 timeout=30, interval=0.2, message='the other model refused and counted')
        assert len(probe.get('/rsdfm/task/building')) == 2
    finally:
        probe.close()
        runner.stop(timeout=20)
