"""Loss soak, short form (the 2-minute form is benchmarks/soak.py).

4 drones' maps at 10 Hz through a link that drops 20% of them and reorders others, into
fusion_node and detection_node (own processes, real DDS). Every frame that had at least one map
delivered gets detections, nothing is refused as late, and the nodes' memory stays flat after
warm-up.
"""
from __future__ import annotations

import pytest

from graph_support import isolate_this_process
from helpers import ros_test_env

isolate_this_process()


@pytest.mark.slow
def test_lossy_reordered_link_loses_no_frame_and_memory_stays_flat(tmp_path):
    from rsdfm_bench.soak import run_soak

    result = run_soak(
        duration_s=15.0,
        log_dir=tmp_path / 'logs',
        env=ros_test_env(),
        drones=4,
        rate_hz=10.0,
        drop=0.2,
        reorder=0.2,
        seed=3,
        progress=False,
    )
    s = result.summary()
    assert result.frames >= 140, s
    assert result.messages_dropped > 0 and result.messages_reordered > 0, s
    # 0.2^4: nearly every frame keeps a map
    assert result.frames_with_map >= 0.95 * result.frames, s
    assert result.missing == [] and result.frames_with_detections == result.frames_with_map, s
    assert int(result.refused.get('refused.late', 0)) == 0, s
    drift = result.memory_drift()
    assert set(drift) == {'/fusion_node', '/detection_node'}, s
    assert all(abs(d) <= 0.10 for _, _, d in drift.values()), s
