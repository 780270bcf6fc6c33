"""The whole graph over real DDS gives what the model gives offline, in either layout and engine.

The central nodes run as separate processes, or all in one ground_station process (the fused
map handed on in memory), and the encoder and heads run eager or in ONNX Runtime; every one of
these must give the offline eager model's outputs.

On a short simulated bag, every frame gives detections, they are the boxes the same model gives
offline on the same bag, and the AP (and segmentation IoU) computed from the recorded ROS outputs
equals what `rsdfm evaluate` gives offline on the same bag, within 0.02. Every frame also gives
trajectories, exactly one per tracked detection and with its track id (detection_node's tracker
is the only one).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
import signal
import subprocess
import sys

import pytest

from graph_support import isolate_this_process, make_bag, node_inputs, play_topics, Probe
from helpers import wait_for

isolate_this_process()
RSDFM = str(Path(sys.executable).with_name('rsdfm'))
FRAMES = 5
THRESHOLD = 0.05      # detection_node's default score_threshold, = rsdfm evaluate's AP threshold


def offline_outputs(bag: Path) -> tuple[dict[int, list], dict[int, object]]:
    """Run the model directly (no ROS) on every frame of the bag.

    Returns stamp -> boxes and stamp -> fused features.
    """
    import torch

    from rsdfm_core.bag import read_frames
    from rsdfm_core.model.runtime import DroneEncoder, FusionDecoder, Runtime, TaskHeads

    torch.set_num_threads(1)
    rt = Runtime.load(None, threads=1)
    enc, fus, heads = DroneEncoder(rt), FusionDecoder(rt), TaskHeads(rt, score_threshold=THRESHOLD)
    boxes, fused = {}, {}
    for frame in read_frames(bag):
        maps = [(enc.encode(v.image, v.K, v.cam_to_map), v.agent_id) for v in frame.views]
        f = fus.fuse(maps)
        boxes[frame.stamp_ns], fused[frame.stamp_ns] = heads.detect(f), f.features
    return boxes, fused


def same_boxes(a: list[tuple], b: list[tuple]) -> float:
    """Fraction of boxes (label, x, y, score) of `a` that have a twin in `b`.

    A twin has the same label, is within 5 cm and within 1e-3 in score. A set comparison: equal
    scores may leave top-k in either order, and ties may fall either side of its cut.
    """
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    if not a and not b:
        return 1.0
    cost = np.array(
        [
            [
                abs(p[1] - q[1])
                + abs(p[2] - q[2])
                + (0 if p[0] == q[0] and abs(p[3] - q[3]) < 1e-3 else 1e3)
                for q in b
            ]
            for p in a
        ]
    ).reshape(len(a), len(b))
    rows, cols = linear_sum_assignment(cost)
    return float((cost[rows, cols] < 0.05).sum()) / max(len(a), len(b))


def offline_evaluate(bag: Path, out: Path, env: dict) -> dict:
    """`rsdfm evaluate` on the bag, as a user runs it."""
    proc = subprocess.run([RSDFM, 'evaluate', '--bag', str(bag), '--json', str(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


@pytest.mark.parametrize('layout, engine', [('separate', 'torch'),
                                            ('one_process', 'onnxruntime')])
def test_graph_detects_every_frame_like_the_offline_model(tmp_path, rclpy_context, ros_env,
                                                          layout, engine):
    from diagnostic_msgs.msg import DiagnosticArray
    import numpy as np
    from nav_msgs.msg import OccupancyGrid
    from visualization_msgs.msg import MarkerArray
    from vision_msgs.msg import Detection3DArray as VisionDetections

    from rsdfm_bringup.readiness import GraphReadiness
    from rsdfm_bringup.recorder import ALL_MATCHED
    from rsdfm_bringup.recorded import read_recorded, shift_stamps
    from rsdfm_bringup.replay import BagReplay
    from rsdfm_bringup.runner import GraphRunner
    from rsdfm_bringup.scoring import score
    from rsdfm_core.bag import read_frames
    from rsdfm_core.graph import fleet_graph
    from rsdfm_msgs.msg import Detection3DArray, FusedBev, TrajectoryArray

    bag = make_bag(tmp_path / 'bag', drones=2, frames=FRAMES)
    graph = fleet_graph(
        drones=2, parameters={'threads': 1, 'max_wait': 5.0, 'image_qos': 'reliable',
                              'engine': engine},
        ground_station=layout,
    )
    assert len(graph.nodes) == (6 if layout == 'separate' else 3)
    onnx_cache = tmp_path / 'onnx'           # a fresh cache: the nodes export, check and use it
    runner = GraphRunner(graph, log_dir=tmp_path / 'logs',
                         env={**ros_env, 'RSDFM_ONNX_CACHE': str(onnx_cache)})
    runner.start()
    rec_dir = tmp_path / 'rec'
    recorder = subprocess.Popen(
        [
            RSDFM,
            'record',
            '--out',
            str(rec_dir),
            '/rsdfm/detections',
            '/rsdfm/fused_bev',
            '/rsdfm/segmentation',
            '/rsdfm/instances',
            '/uav1/rsdfm/bev_feature',
            '/uav2/rsdfm/bev_feature',
            '/diagnostics',
        ],
        env=ros_env,
        stderr=open(tmp_path / 'recorder.log', 'wb'),
    )
    probe = Probe(
        rclpy_context,
        {
            '/rsdfm/detections': Detection3DArray,
            '/rsdfm/fused_bev': FusedBev,
            '/rsdfm/trajectories': TrajectoryArray,
            '/diagnostics': DiagnosticArray,
            '/rsdfm/detections/vision': VisionDetections,
            '/rsdfm/segmentation': OccupancyGrid,
            '/rsdfm/detections/markers': MarkerArray,
            '/rsdfm/trajectories/markers': MarkerArray,
        },
    )
    readiness = GraphReadiness(probe.node, graph)
    try:
        replay = BagReplay(
            probe.node,
            bag,
            rate=0.25,
            topics=play_topics(['/uav1', '/uav2']),
            restamp=True,
            camera_qos_kind='reliable',
        )

        def ready():
            assert not runner.exited(), (
                f'nodes died: {runner.exited()}; logs in {tmp_path / "logs"}'
            )
            # the recorder's readers matched (DDS), not only counted in the graph
            return (ALL_MATCHED in (tmp_path / 'recorder.log').read_text(errors='replace')
                    and readiness.ready(replay, node_inputs(replay.topics)))
        wait_for(ready, timeout=90, interval=0.2, message='graph, recorder and probe connected')
        replay.play(progress=False)
        wait_for(lambda: len(probe.get('/rsdfm/detections')) >= FRAMES, timeout=60, interval=0.2,
                 message=f'detections for all {FRAMES} frames')
        wait_for(lambda: len(probe.get('/rsdfm/segmentation')) >= FRAMES, timeout=60, interval=0.2,
                 message=f'segmentation for all {FRAMES} frames')
        wait_for(
            lambda: len(probe.get('/rsdfm/detections/vision')) >= FRAMES,
            timeout=60,
            interval=0.2,
            message=f'vision_msgs detections for all {FRAMES} frames',
        )
        wait_for(lambda: len(probe.get('/rsdfm/trajectories')) >= FRAMES, timeout=60, interval=0.2,
                 message=f'trajectories for all {FRAMES} frames')
        wait_for(
            lambda: probe.diagnostics('/trajectory_node').get('published') == str(FRAMES),
            timeout=30,
            interval=0.2,
            message='trajectory_node diagnostics after the last frame',
        )
        trajectory_diag = probe.diagnostics('/trajectory_node')
        offset = replay.offset_ns
        names = {ns.rstrip('/') + '/' + n
                 for n, ns in probe.node.get_node_names_and_namespaces()}
        assert {s.full_name for s in graph.ros_nodes} <= names, names
        readers = ('/detection_node', '/segmentation_node', '/trajectory_node')
        wait_for(lambda: all(probe.diagnostics(n).get('published') == str(FRAMES)
                             for n in readers),
                 timeout=30, interval=0.2, message='every fused-map reader counted all frames')
        for name in readers:
            assert probe.diagnostics(name)['lost'] == '0', (name, probe.diagnostics(name))
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(20)
        probe.close()
        runner.stop(timeout=20)

    exported = sorted(f.name.split('_')[1] for f in onnx_cache.glob('*.onnx'))
    if engine == 'onnxruntime':     # model id _ part _ shape: encoder, BEV decoder, three heads
        assert exported == ['decoder', 'det', 'encoder', 'seg', 'traj'], exported
        logs = (tmp_path / 'logs' / 'uav1.perception_node.log').read_text()
        assert 'onnxruntime for encoder' in logs and 'runs eager' not in logs, logs[-2000:]
    else:
        assert exported == []
    offline, offline_fused = offline_outputs(bag)

    def by_stamp(msgs):
        return {m.header.stamp.sec * 10**9 + m.header.stamp.nanosec - offset: m for m in msgs}
    live = by_stamp(probe.get('/rsdfm/detections'))
    assert sorted(live) == sorted(offline), (
        'one detection message per frame, stamped with its capture time'
    )
    for stamp, msg in by_stamp(probe.get('/rsdfm/fused_bev')).items():
        ros = (
            np.frombuffer(bytes(msg.payload), '<f2')
            .reshape(offline_fused[stamp].shape)
            .astype(np.float32)
        )
        assert np.abs(ros - offline_fused[stamp].astype(np.float32)).max() < 0.05, (
            f'fused map {stamp} differs'
        )
    for stamp, boxes in offline.items():
        got = live[stamp].detections
        confident = [(o.label, o.x, o.y, o.score) for o in boxes if o.score >= 0.3]
        assert (
            same_boxes(
                [
                    (d.label, d.pose.position.x, d.pose.position.y, d.score)
                    for d in got
                    if d.score >= 0.3
                ],
                confident,
            )
            >= 0.95
        ), f'frame {stamp}: confident boxes differ'
    fused_by_stamp = by_stamp(probe.get('/rsdfm/fused_bev'))
    segmentation = by_stamp(probe.get('/rsdfm/segmentation'))
    assert sorted(segmentation) == sorted(fused_by_stamp), 'one segmentation per fused map'
    for stamp, grid in segmentation.items():
        fused = fused_by_stamp[stamp]
        coverage = np.frombuffer(bytes(fused.coverage), np.uint8).reshape(fused.rows, fused.cols)
        cells = np.frombuffer(bytes(grid.data), np.int8).reshape(grid.info.height, grid.info.width)
        assert 0 < (coverage == 0).sum() < coverage.size, 'two drones see part of the region'
        assert np.array_equal(cells == -1, coverage == 0), \
            f'frame {stamp}: the unknown cells are not the unseen ones'
        assert set(np.unique(cells[coverage > 0])) <= {0, 100}
    vision = by_stamp(probe.get('/rsdfm/detections/vision'))
    assert sorted(vision) == sorted(live), 'one vision_msgs message per detection message'
    for stamp, msg in vision.items():
        ours = [
            (str(d.track_id) if d.track_id else '', d.label, round(d.pose.position.x, 4), d.size.x)
            for d in live[stamp].detections
        ]
        theirs = [
            (
                d.id,
                d.results[0].hypothesis.class_id,
                round(d.bbox.center.position.x, 4),
                d.bbox.size.x,
            )
            for d in msg.detections
        ]
        assert theirs == ours, f'frame {stamp}: vision_msgs boxes differ from the rsdfm ones'
    for topic in ('/rsdfm/detections/markers', '/rsdfm/trajectories/markers'):
        # built only while someone subscribes: the probe does, so one array per frame, each
        # starting with a DELETEALL stamped with its frame
        arrays = probe.get(topic)
        stamps = sorted(a.markers[0].header.stamp.sec * 10**9 + a.markers[0].header.stamp.nanosec
                        - offset for a in arrays)
        assert stamps == sorted(live), f'{topic}: one marker array per detection message'
    trajectories = by_stamp(probe.get('/rsdfm/trajectories'))
    assert sorted(trajectories) == sorted(live), 'one trajectory message per detection message'
    for stamp, msg in trajectories.items():
        tracked = sorted((d.track_id, d.label) for d in live[stamp].detections if d.track_id)
        assert len({i for i, _ in tracked}) == len(tracked), (
            f'frame {stamp}: a track id on two boxes'
        )
        got = sorted((t.track_id, t.label) for t in msg.trajectories)
        assert got == tracked, (
            f'frame {stamp}: trajectories {got} are not the tracked detections {tracked}'
        )
    assert sum(len(m.trajectories) for m in trajectories.values()) > 0, (
        'nothing tracked: a vacuous check'
    )
    assert trajectory_diag['refused_total'] == '0', trajectory_diag

    rec = read_recorded(rec_dir)
    assert sorted(shift_stamps(rec.detections, offset)) == sorted(offline)
    assert all(set(agents) == {'uav1', 'uav2'} for agents in rec.fused_agents.values())
    ros = score(rec, list(read_frames(bag)), rec.fused_grid, offset)
    ref = offline_evaluate(bag, tmp_path / 'evaluate.json', ros_env)
    for key in ('ap50', 'ap70', 'iou'):
        a, b = ros[key], ref[key]
        assert (a is None or math.isnan(a)) == (b is None) and (b is None or abs(a - b) <= 0.02), (
            key,
            a,
            b,
        )
    assert ros['bytes_per_agent_frame'] == ref['bytes_per_agent_frame']
