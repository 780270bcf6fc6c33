"""detection_node with centre_votes and heat_centres (own process, real DDS) refines its boxes.

Fed a real fused map (one simulated frame of two drones through the shipped model), it publishes
the boxes TaskHeads(centre_votes=True, heat_centres=True) gives in process, and these are not
the plain boxes: the parameters switch the refinements on in the node as `rsdfm evaluate
--centre-votes --heat-centres` does.
"""
from __future__ import annotations

import math

from graph_support import isolate_this_process, Probe
from helpers import wait_for

isolate_this_process()


def _fused_frame(rt):
    """Return (FusedMap, FusedBev message) of one simulated frame, and its capture stamp."""
    from rsdfm_core.model.runtime import DroneEncoder, fused_to_payload, FusionDecoder
    from rsdfm_core.world import Simulator, WorldConfig
    from rsdfm_msgs.msg import FusedBev
    from rsdfm_ros.conversions import bytes_to_uint8_array, grid_to_fields, ns_to_stamp

    frame = next(iter(Simulator(WorldConfig(seed=5003, drones=2, dense_gt=False)).frames(1)))
    enc = DroneEncoder(rt)
    fused = FusionDecoder(rt).fuse([(enc.encode(v.image, v.K, v.cam_to_map), v.agent_id)
                                    for v in frame.views])
    g = fused.grid
    msg = FusedBev()
    msg.header.stamp, msg.header.frame_id = ns_to_stamp(frame.stamp_ns), 'map'
    msg.grid_origin, msg.resolution, msg.rows, msg.cols = grid_to_fields(g)
    msg.channels, msg.agents = fused.features.shape[0], [v.agent_id for v in frame.views]
    msg.model_id = rt.model_id
    msg.payload = bytes_to_uint8_array(fused_to_payload(fused))
    return fused, msg


def test_refined_centres_move_the_published_boxes_as_in_process(tmp_path, rclpy_context, ros_env):
    from rsdfm_bringup.runner import GraphRunner
    from rsdfm_core.graph import fleet_graph
    from rsdfm_core.model.runtime import fused_from_payload, Runtime, TaskHeads
    from rsdfm_msgs.msg import Detection3DArray, FusedBev
    from rsdfm_ros.conversions import fields_to_grid
    from rsdfm_ros.qos import result_qos

    rt = Runtime.load(None, threads=1)
    _, msg = _fused_frame(rt)
    # what the node rebuilds from the message (float16 features), decoded in process both ways
    fused = fused_from_payload(fields_to_grid(msg), int(msg.channels), bytes(msg.payload),
                               list(msg.agents))
    threshold = 0.3
    plain = TaskHeads(rt, score_threshold=threshold).detect(fused)
    refined = {k: TaskHeads(rt, score_threshold=threshold, **{k: True}).detect(fused)
               for k in ('centre_votes', 'heat_centres')}
    for k, boxes in refined.items():
        moved = [a for a, b in zip(plain, boxes) if math.hypot(a.x - b.x, a.y - b.y) > 0.05]
        assert len(boxes) >= 5 and moved, f'the frame must have boxes that {k} moves'
    voted = TaskHeads(rt, score_threshold=threshold, centre_votes=True,
                      heat_centres=True).detect(fused)

    graph = fleet_graph(namespaces=['uav1'], parameters={
        'threads': 1, 'centre_votes': True, 'heat_centres': True, 'score_threshold': threshold})
    runner = GraphRunner(graph, log_dir=tmp_path / 'logs', env=ros_env)
    runner.start(['/detection_node'])
    probe = Probe(rclpy_context, {'/rsdfm/detections': Detection3DArray})
    maps = probe.node.create_publisher(FusedBev, '/rsdfm/fused_bev', result_qos())
    try:
        def ready():
            assert not runner.exited(), f'node died; logs in {tmp_path / "logs"}'
            return (maps.get_subscription_count() >= 1
                    and probe.node.count_publishers('/rsdfm/detections') >= 1)
        wait_for(ready, timeout=90, interval=0.2, message='detection_node subscribed')
        maps.publish(msg)
        wait_for(lambda: probe.get('/rsdfm/detections'), timeout=60, interval=0.1,
                 message='detections of the fused map')
    finally:
        probe.close()
        runner.stop(timeout=20)
    got = sorted(((d.label, d.pose.position.x, d.pose.position.y, d.score)
                  for d in probe.get('/rsdfm/detections')[0].detections), key=lambda t: -t[3])
    assert len(got) == len(voted)
    for (label, x, y, score), box in zip(got, voted):
        assert label == box.label and abs(score - box.score) < 1e-3
        # ONNX Runtime heads in the node against eager in process
        assert math.hypot(x - box.x, y - box.y) < 0.02, (x, y, box)
