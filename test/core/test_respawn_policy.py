"""The runner's respawn policy: back-off per node, reset after a stable run, none for bad settings.

The back-off is exponential; no processes are needed.
"""
from rsdfm_bringup.respawn import Backoff, SETTINGS_EXIT, should_respawn


def test_backoff_doubles_per_crash_up_to_the_maximum_and_resets_after_a_stable_run():
    b = Backoff(initial=0.5, maximum=4.0, stable=30.0)
    assert [b.next_delay('/fusion_node', ran_for=1.0) for _ in range(6)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        4.0,
        4.0,
    ]
    assert b.next_delay('/uav1/perception_node', ran_for=1.0) == 0.5       # per node
    assert b.next_delay('/fusion_node', ran_for=31.0) == 0.5               # ran long enough: reset
    assert b.next_delay('/fusion_node', ran_for=2.0) == 1.0


def test_crashes_are_respawned_bad_settings_and_running_nodes_are_not():
    assert should_respawn(-9) and should_respawn(1) and should_respawn(0)
    assert not should_respawn(SETTINGS_EXIT)
    assert not should_respawn(None)
