"""fleet-net's figures: link bytes, per-drone maps and latency, outages, link health (no ROS)."""
import json
import math

import pytest

from rsdfm_bringup.fleet_net_report import first_sent
from rsdfm_bringup.link_health import drone_of_status, LinkHealth
from rsdfm_bringup.link_schedule import LinkEvent
from rsdfm_bringup.net_figures import (drone_figures, fused_stamps, link_bytes, LinkBytes,
                                       outage_figures, pair_outages)
from rsdfm_bringup.netns import InterfaceStats, LinkCounters, parse_interface_stats

S = 1_000_000_000      # ns per s
OFFSET = 7 * S         # replay restamp offset


def _stats(rx=0, tx=0, tx_packets=0):
    return InterfaceStats(rx, 0, tx, tx_packets, 0)


def test_interface_counters_are_read_from_ip_json():
    text = json.dumps([{'ifname': 'radio0', 'stats64': {
        'rx': {'bytes': 90, 'packets': 1, 'errors': 0, 'dropped': 0},
        'tx': {'bytes': 180, 'packets': 2, 'errors': 0, 'dropped': 3}}}])
    assert parse_interface_stats(text) == InterfaceStats(90, 1, 180, 2, 3)


def test_link_bytes_are_counter_differences_per_direction():
    before = LinkCounters(drone=_stats(rx=10, tx=100, tx_packets=1), ground=_stats(rx=90, tx=20))
    after = LinkCounters(drone=_stats(rx=60, tx=1100, tx_packets=5), ground=_stats(rx=1050, tx=70))
    assert link_bytes(before, after) == LinkBytes(up_sent=1000, up_received=960, down_sent=50,
                                                  up_packets=4)


def test_drone_figures_relate_wire_bytes_to_the_maps_the_drone_sent():
    fused = {OFFSET + 1 * S: ['uav1', 'uav2'], OFFSET + 2 * S: ['uav2'],
             OFFSET + 3 * S: ['uav1']}
    detections_at = {s: s + S // 2 for s in fused}                  # stamps as published
    sent_at = {1 * S: 1 * S + 100, 2 * S: 2 * S, 3 * S: 3 * S + 300}   # bag stamps -> wall
    fig = drone_figures('uav1', LinkBytes(44_000, 43_000, 2_000, 40),
                        {'published': '4', 'bytes_out': '40000'}, fused, detections_at,
                        sent_at, OFFSET)
    assert fig['maps_sent'] == 4 and fig['maps_fused'] == 2
    assert fig['payload_bytes_per_map'] == 10_000 and fig['wire_bytes_per_map'] == 11_000
    assert fig['wire_to_payload'] == pytest.approx(1.1)
    # latency over the frames fused with uav1: offset + 0.5 s - the wall time its image left
    assert fig['latency_ms_median'] == pytest.approx((OFFSET + S // 2 - 100 - 300 // 2) / 1e6)


def test_a_drone_never_heard_has_no_ratio():
    fig = drone_figures('uav3', LinkBytes(500, 500, 0, 2), {}, {}, {}, {}, 0)
    assert fig['maps_sent'] == 0 and math.isnan(fig['wire_to_payload'])
    assert math.isnan(fig['latency_ms_median'])


def test_outage_figures_time_the_return_and_the_other_drones_pauses():
    # frames every 0.4 s, received 0.1 s later; uav2 is away from 2.0 s to 4.0 s and fused
    # again from the frame of 4.8 s
    times = [round(0.4 * i, 1) for i in range(15)]
    fused = {int(t * S): ['uav1'] + (['uav2'] if t < 2.0 or t >= 4.7 else []) for t in times
             if t != 2.4}                              # one frame paused at the outage's start
    received = {s: s + S // 10 for s in fused}
    sent_at = {int(t * S) - OFFSET: int(t * S) - S // 4 for t in times}    # 0.25 s to fusion
    down = (LinkEvent(2.0, 'uav2', False), int(2.0 * S))
    up = (LinkEvent(4.0, 'uav2', True), int(4.0 * S))
    fig = outage_figures(down, up, ['uav1', 'uav2'], fused, received, sent_at, OFFSET)
    assert fig['down_s'] == pytest.approx(2.0)
    assert fig['fused_again_after_s'] == pytest.approx(0.9)       # 4.8 + 0.1 - 4.0
    assert fig['fused_again_image_after_s'] == pytest.approx(0.55)  # 4.8 - 0.25 - 4.0
    other = fig['others']['uav1']
    assert other['max_gap_s'] == pytest.approx(0.8)
    assert other['max_gap_before_s'] == pytest.approx(0.4)
    assert other['frames_fused_during'] == 4        # 2.1 (frame 2.0), 2.9, 3.3, 3.7 received


def test_outages_pair_downs_with_the_next_up_of_the_same_drone():
    events = [(LinkEvent(1, 'a', False), 10), (LinkEvent(2, 'b', False), 20),
              (LinkEvent(3, 'a', True), 30), (LinkEvent(4, 'b', True), 40),
              (LinkEvent(5, 'a', True), 50)]
    pairs = [(d[0].drone, d[1], u[1]) for d, u in pair_outages(events)]
    assert pairs == [('a', 10, 30), ('b', 20, 40)]


def test_fused_stamps_and_first_sent():
    assert fused_stamps({3: ['a'], 1: ['a', 'b'], 2: ['b']}, 'a') == [1, 3]
    assert first_sent({'a': {1: 50, 2: 70}, 'b': {1: 40, 3: 90}}) == {1: 40, 2: 70, 3: 90}


def test_link_health_counts_each_silence_once():
    h = LinkHealth('uav2', silence_s=2.0)
    assert not h.check(100.0)                 # never heard: not an outage yet
    h.heard(0.0)
    h.heard(1.0)
    assert not h.check(2.5)
    assert h.check(3.0) and h.in_outage and h.outages == 1
    assert not h.check(4.0) and h.outages == 1
    assert h.heard(7.5) and not h.in_outage
    assert h.longest_silence_s == pytest.approx(6.5) and h.silent_s(8.0) == pytest.approx(0.5)
    h.check(9.0)
    assert h.outages == 1


def test_status_names_map_to_drones():
    drones = ['uav1', 'uav2']
    assert drone_of_status('/uav2/perception_node', drones) == 'uav2'
    assert drone_of_status('/fusion_node', drones) is None
    assert drone_of_status('/uav1', drones) is None
    assert drone_of_status('/fleet_net_monitor: link uav1', drones) is None
