"""Fusion admission over real DDS, each decision read from /diagnostics.

fusion_node runs as its own process, drones' maps are fed from the test process
(fusion_support.MapFeed), with max_agents 2, allowed_namespaces ['/uav*'] and short timeouts.
In turn: a topic outside the allow-list is never subscribed and counted once; an agent
beyond max_agents is refused and its topic unsubscribed; a burst beyond the rate limit is dropped
and counted while the drone stays fused; a drone gone silent is forgotten (its subscription and
place freed, so the refused agent gets in), and a forgotten drone that comes back is found again
by discovery and fused again.
"""
from __future__ import annotations

import time

from fusion_support import fusion_under_test

from graph_support import isolate_this_process
from helpers import wait_for

isolate_this_process()

FORGET_S = 3.0
PARAMS = f"""/**/fusion_node:
  ros__parameters:
    threads: 1
    max_agents: 2
    allowed_namespaces: ['/uav*']
    drone_timeout: 1.0
    agent_forget_timeout: {FORGET_S}
    discovery_period: 0.2
    max_wait: 0.5
"""
BURST_HZ, BURST_S = 200.0, 1.0          # 200 maps/s for 1 s: limit 30 maps/s, 30 in the bucket


def test_admission_refuses_strangers_limits_rates_and_forgets_silent_drones(tmp_path):
    with fusion_under_test(tmp_path, PARAMS) as (runner, watch, feed):
        check_admission(tmp_path, runner, watch, feed)
    log = (tmp_path / 'logs' / 'fusion_node.log').read_text()
    for reason in ('not_allowed', 'too_many_agents', 'rate_limited'):
        assert log.count(f'refusing input ({reason})') == 1, log      # logged once per reason


def check_admission(tmp_path, runner, watch, feed) -> None:
    """Each admission decision in turn, as the module docstring lists them."""
    def count(key: str) -> int:
        assert not runner.exited(), f'fusion_node exited; see {tmp_path}/logs'
        return int(watch.fusion(key, '0') or 0)

    def fused_since(mark: int, agents: set[str]) -> bool:
        return any(members == agents for _, members, _ in watch.fused_maps()[mark:])

    # allow-list: /intruder is never subscribed, counted once however often it is scanned
    intruder = feed.publisher('intruder')
    wait_for(lambda: count('refused.not_allowed') == 1
             and all(feed.publisher(a).get_subscription_count() >= 1
                     for a in ('uav1', 'uav2')),
             timeout=90, interval=0.1, message='uav1 and uav2 subscribed, intruder refused')
    feed.start(['uav1', 'uav2', 'intruder'])
    wait_for(lambda: fused_since(0, {'uav1', 'uav2'}), timeout=30,
             message='uav1 and uav2 fused')
    scans = watch.diag_count
    wait_for(lambda: watch.diag_count >= scans + 3, timeout=30, message='3 more diagnostics')
    assert count('refused.not_allowed') == 1 and intruder.get_subscription_count() == 0
    assert not any('intruder' in members for _, members, _ in watch.fused_maps())

    # max_agents 2: uav3 is refused, its topic unsubscribed; the known drones keep their place
    feed.start(['uav3'])
    uav3 = feed.publisher('uav3')
    wait_for(lambda: count('refused.too_many_agents') >= 1 and count('topics_parked') == 1
             and uav3.get_subscription_count() == 0, timeout=30, interval=0.1,
             message='uav3 refused and unsubscribed')
    mark = len(watch.fused_maps())
    wait_for(lambda: fused_since(mark, {'uav1', 'uav2'}), timeout=30,
             message='uav1 and uav2 still fused')

    # rate limit: a burst from uav1 is cut down; uav1 is fused on afterwards. The burst
    # repeats a frame already fused: admitted maps are then refused as late, not fused, so
    # the node keeps up with the burst
    uav1, t0 = feed.publisher('uav1'), time.monotonic()
    stamp = watch.fused_maps()[-1][0]
    for i in range(int(BURST_HZ * BURST_S)):
        with feed.lock:                       # the feed's thread publishes on it too
            uav1.publish(feed.feature('uav1', 0, stamp))
        time.sleep(max(0.0, t0 + (i + 1) / BURST_HZ - time.monotonic()))   # burst rate
    wait_for(lambda: count('refused.rate_limited') >= 1, timeout=30,
             message='burst maps refused as rate_limited')
    mark = len(watch.fused_maps())
    wait_for(lambda: fused_since(mark, {'uav1', 'uav2'}), timeout=30,
             message='uav1 fused after its burst')

    # uav2 gone: forgotten after agent_forget_timeout, which gives uav3 its place
    feed.remove('uav2')
    wait_for(lambda: count('agents_forgotten') >= 1 and count('topics_parked') == 0
             and uav3.get_subscription_count() >= 1, timeout=30, interval=0.1,
             message='uav2 forgotten and uav3 listened to again')
    mark = len(watch.fused_maps())
    wait_for(lambda: fused_since(mark, {'uav1', 'uav3'}), timeout=30,
             message='uav3 fused in the place uav2 left')
    assert count('topics_subscribed') == 2                     # uav1, uav3

    # uav3 gone and uav2 back: uav2 is found again and fused once uav3 is forgotten
    feed.remove('uav3')
    feed.start(['uav2'])
    mark = len(watch.fused_maps())
    wait_for(lambda: fused_since(mark, {'uav1', 'uav2'}), timeout=30,
             message='uav2 fused again after coming back')
    wait_for(lambda: count('agents_forgotten') >= 2 and watch.fusion('agents_known') == '2',
             timeout=10, message='diagnostics counting uav3 forgotten')
