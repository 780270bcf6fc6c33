"""fusion_node with map alignment on: every fused frame reports each drone's correction.

fusion_node runs as its own process with align:=keep and align_reference uav1; two drones' real
maps are fed from the test process. /diagnostics names uav1 the reference and gives uav2's
status and correction; the counters add up per frame.
"""
from __future__ import annotations

import re

from fusion_support import fusion_under_test

from graph_support import isolate_this_process
from helpers import wait_for

isolate_this_process()

PARAMS = """/**/fusion_node:
  ros__parameters:
    threads: 1
    align: keep
    align_reference: uav1
    discovery_period: 0.2
"""
CORRECTION = re.compile(r'^(aligned|unchanged|no_overlap) dx=-?\d+\.\d\d m dy=-?\d+\.\d\d m '
                        r'yaw=-?\d+\.\d\d deg agreement=(nan|-?\d\.\d\d)$')


def test_fusion_node_reports_the_alignment_of_every_drone(tmp_path):
    with fusion_under_test(tmp_path, PARAMS) as (runner, watch, feed):
        wait_for(lambda: all(feed.publisher(a).get_subscription_count() >= 1
                             for a in ('uav1', 'uav2')),
                 timeout=90, interval=0.1, message='uav1 and uav2 subscribed')
        feed.start(['uav1', 'uav2'])

        def reported() -> bool:
            assert not runner.exited(), f'fusion_node exited; see {tmp_path}/logs'
            return (any(members == {'uav1', 'uav2'} for _, members, _ in watch.fused_maps())
                    and int(watch.fusion('alignments.reference', '0') or 0) >= 2)
        wait_for(reported, timeout=60, interval=0.1, message='two frames fused and aligned')
        assert watch.fusion('align.uav1', '').startswith('reference')
        assert CORRECTION.match(watch.fusion('align.uav2', '')), watch.fusion('align.uav2', '')
        others = sum(int(watch.fusion(f'alignments.{s}', '0') or 0)
                     for s in ('aligned', 'unchanged', 'no_overlap'))
        assert others >= 1
