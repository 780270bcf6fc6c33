"""Malformed BevFeature messages from a rogue drone (uav9) over real DDS.

The fusion node (its own process) refuses each kind for its reason, counts it per reason on
/diagnostics, logs it once per reason naming the agent, and still fuses the good drones' maps
(uav1, uav2) of the same frame. One fusion process serves the whole module; each test is one
kind of bad input.
"""
from __future__ import annotations

import time

import pytest

from graph_support import isolate_this_process, Probe
from helpers import ros_test_env, wait_for

isolate_this_process()

GOOD = ('uav1', 'uav2')
ROGUE = 'uav9'
HOUR_NS = 3600 * 10**9
HALF_S_NS = 500_000_000


class Fleet:
    """The fusion node process, good maps of two drones, and publishers the test drives."""

    def __init__(self, tmp, context):
        from diagnostic_msgs.msg import DiagnosticArray
        import numpy as np

        from rsdfm_bringup.runner import GraphRunner
        from rsdfm_core.graph import fleet_graph
        from rsdfm_core.model.runtime import DroneEncoder, Runtime
        from rsdfm_core.world.config import WorldConfig
        from rsdfm_core.world.simulator import Simulator
        from rsdfm_msgs.msg import BevFeature, FusedBev
        from rsdfm_ros.qos import result_qos

        self.tmp = tmp
        rt = Runtime.load(None, threads=1)
        frame = next(
            iter(
                Simulator(
                    WorldConfig(seed=5, drones=2, dense_gt=False, width=160, height=120)
                ).frames(1)
            )
        )
        enc = DroneEncoder(rt)
        self.encoded = {agent: (enc.encode(v.image, v.K, v.cam_to_map), v.cam_to_map)
                        for agent, v in zip(GOOD, frame.views)}
        self.model_id = rt.model_id
        self.last_stamp = time.time_ns()      # stamp of the last good frame the test sent
        self.np = np
        graph = fleet_graph(
            namespaces=['uav1'],
            parameters={
                'threads': 1,
                'max_wait': 0.5,
                'drone_timeout': 120.0,
                'agent_forget_timeout': 240.0,
                'discovery_period': 0.2,
            },
        )
        self.runner = GraphRunner(graph, log_dir=tmp / 'logs', env=ros_test_env())
        self.runner.start(['/fusion_node'])
        self.probe = Probe(
            context,
            {'/rsdfm/fused_bev': FusedBev, '/diagnostics': DiagnosticArray},
            name='bad_input_fusion_probe',
        )
        node = self.probe.node
        self.pubs = {a: node.create_publisher(BevFeature, f'/{a}/rsdfm/bev_feature', result_qos())
                     for a in GOOD + (ROGUE,)}
        wait_for(
            lambda: (
                not self.runner.exited()
                and all(p.get_subscription_count() >= 1 for p in self.pubs.values())
            ),
            timeout=90,
            interval=0.1,
            message='fusion node subscribed to the three drone topics',
        )

    def feature(self, agent: str, stamp_ns: int):
        from rsdfm_ros.conversions import encoded_to_feature

        m, pose = self.encoded[agent if agent in self.encoded else 'uav1']
        return encoded_to_feature(m, agent, stamp_ns, pose, self.model_id)

    def refused(self, reason: str) -> int:
        return int(self.probe.diagnostics('/fusion_node').get(f'refused.{reason}', 0))

    def fused_at(self, stamp_ns: int):
        from rsdfm_ros.conversions import stamp_to_ns

        return [
            m
            for m in self.probe.get('/rsdfm/fused_bev')
            if stamp_to_ns(m.header.stamp) == stamp_ns
        ]

    def close(self):
        self.probe.close()
        self.runner.stop(timeout=20)


@pytest.fixture(scope='module')
def fleet(tmp_path_factory, module_rclpy_context):
    f = Fleet(tmp_path_factory.mktemp('bad_fusion'), module_rclpy_context)
    try:
        yield f
    finally:
        f.close()


def _set(msg, path: str, value):
    *parents, leaf = path.split('.')
    obj = msg
    for p in parents:
        obj = getattr(obj, p)
    setattr(obj, leaf, value)


def _payload(change):
    def apply(msg):
        from rsdfm_ros.conversions import bytes_to_uint8_array
        msg.payload = bytes_to_uint8_array(change(bytes(msg.payload)))
    return apply


def _stamp(offset_ns):
    def apply(msg):
        from rsdfm_ros.conversions import ns_to_stamp, stamp_to_ns
        msg.header.stamp = ns_to_stamp(stamp_to_ns(msg.header.stamp) + offset_ns)
    return apply


def _flip_last_byte(b: bytes) -> bytes:
    return b[:-1] + bytes([b[-1] ^ 0xFF])


BAD = {
    'payload_short': ('payload_size', _payload(lambda b: b[:-100])),
    'payload_long': ('payload_size', _payload(lambda b: b + b'\0' * 100)),
    'rows_zero': ('grid_size', lambda m: _set(m, 'rows', 0)),
    'cols_zero': ('grid_size', lambda m: _set(m, 'cols', 0)),
    'grid_65535x65535': ('grid_size', lambda m: (_set(m, 'rows', 65535), _set(m, 'cols', 65535))),
    'channels_zero': ('channels', lambda m: _set(m, 'channels', 0)),
    'channels_absurd': ('channels', lambda m: _set(m, 'channels', 65535)),
    'unknown_codec': ('codec', lambda m: _set(m, 'codec', 'jpeg-xl')),
    'nan_pose': ('pose_not_finite', lambda m: _set(m, 'camera_pose.position.x', float('nan'))),
    'inf_grid_origin': (
        'pose_not_finite',
        lambda m: _set(m, 'grid_origin.position.y', float('inf')),
    ),
    'non_unit_quaternion': (
        'quaternion_not_unit',
        lambda m: _set(m, 'camera_pose.orientation.w', 3.0),
    ),
    'resolution_zero': ('resolution', lambda m: _set(m, 'resolution', 0.0)),
    'resolution_negative': ('resolution', lambda m: _set(m, 'resolution', -1.0)),
    'grid_far_outside': (
        'grid_outside_region',
        lambda m: _set(m, 'grid_origin.position.x', 5000.0),
    ),
    'stamp_future': ('stamp_future', _stamp(HOUR_NS)),
    'stamp_far_past': ('stamp_past', _stamp(-HOUR_NS)),
    'corrupt_checksum': ('bad_payload', _payload(_flip_last_byte)),
}


@pytest.mark.parametrize('kind', list(BAD))
def test_malformed_feature_is_refused_and_good_maps_are_still_fused(fleet, kind):
    reason, corrupt = BAD[kind]
    before = fleet.refused(reason)
    stamp = time.time_ns()
    if reason == 'bad_payload':
        # A map that passes the checks fails only when its frame is fused: make the rogue a live
        # drone first (one good map), so that frame waits for its map whatever order the topics
        # deliver in. These stamps continue the fleet's clock (the last good frame) rather than
        # the wall clock: the previous case stamped its frame before waiting on /diagnostics, so
        # a map stamped "now" could be ahead of the fleet clock by more than max_skew (1 s) and
        # be refused as stamp_skew.
        warm = fleet.last_stamp + HALF_S_NS
        fleet.pubs[ROGUE].publish(fleet.feature(ROGUE, warm))
        wait_for(
            lambda: ROGUE in fleet.probe.diagnostics('/fusion_node').get('live_agents', ''),
            timeout=30,
            interval=0.1,
            message='rogue drone live',
        )
        stamp = warm + HALF_S_NS
    for _ in range(2):                        # twice: counted twice, logged once
        bad = fleet.feature(ROGUE, stamp)
        corrupt(bad)
        fleet.pubs[ROGUE].publish(bad)
    if reason != 'bad_payload':  # refused on arrival, before the good maps of the frame are sent
        wait_for(lambda: fleet.refused(reason) >= before + 2, timeout=30, interval=0.1,
                 message=f'/diagnostics counting refused.{reason} ({kind})')
    for agent in GOOD:
        fleet.pubs[agent].publish(fleet.feature(agent, stamp))
    fleet.last_stamp = stamp
    fused = wait_for(
        lambda: fleet.fused_at(stamp), timeout=30, interval=0.05, message=f'frame fused ({kind})'
    )
    assert sorted(fused[0].agents) == list(GOOD), fused[0].agents
    wait_for(lambda: fleet.refused(reason) >= before + 1, timeout=30, interval=0.1,
             message=f'/diagnostics counting refused.{reason} ({kind})')
    assert not fleet.runner.exited(), fleet.runner.exited()
    log = (fleet.tmp / 'logs' / 'fusion_node.log').read_text()
    lines = [line for line in log.splitlines() if f'refusing input ({reason})' in line]
    assert len(lines) == 1 and ROGUE in lines[0], lines  # logged once per reason, naming the agent
