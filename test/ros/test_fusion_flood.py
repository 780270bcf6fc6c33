"""A flood of fake drones into fusion (fusion_node and detection_node as processes, real DDS).

Four real drones' maps go into the graph at 10 Hz (fusion_support.MapFeed, as the loss soak
feeds them). After a warm-up an outside process (flood_publisher.py) creates 100 fake drone
namespaces publishing a real drone's map, restamped, agent_id fakeNN, at 10 Hz each for 20 s,
then stops. max_agents is the fleet's size, so every fake topic is refused (too_many_agents,
once each) and not subscribed. Checked: at least 95 % of the real frames sent from the start of
the flood to the end are fused with all 4 real drones; once the fakes are gone nothing of them
is left (subscriptions, parked topics, agents, on /diagnostics); fusion_node's memory (its
resident floor between frames) is back within 10 % of its level before the flood. The fused
maps' latency before, during and after the flood is printed and kept in flood.json: the flood
publisher shares the cores.
"""
from __future__ import annotations

import json
from pathlib import Path
import statistics
import subprocess
import sys
import time

from fusion_support import FusionWatch, MapFeed
import pytest

from graph_support import isolate_this_process
from helpers import ros_test_env, wait_for

isolate_this_process()

FAKES, FLOOD_HZ, FLOOD_S = 100, 10.0, 20.0
# fusion_node's RSS swings by about 40 MB (11 %) within each 100 ms frame as the model's working
# tensors come and go, so a few 1 s samples land on either side by chance (a median of 5 went
# from 386 before to 345 MB after in one run with no leak). Its level is the floor between
# frames: the least of 12 samples 0.25 s apart, taken before and after the flood.
MEMORY_SAMPLES, MEMORY_INTERVAL_S = 12, 0.25
WINDOW_NS = 50_000_000                 # fusion_node's window (config/rsdfm.yaml)
PARAMETERS = {'threads': 1, 'max_agents': 4}
FLOOD_SCRIPT = Path(__file__).resolve().parent / 'flood_publisher.py'


def fused_with_all(fused: list, agents: set[str]) -> dict[int, int]:
    """Stamp of a fused map with every one of `agents` -> its arrival time (ns)."""
    return {stamp: arrival for stamp, members, arrival in fused if agents <= members}


def frame_latency_ms(sent: list[int], full: dict[int, int]) -> dict[int, float]:
    """Map a real frame's stamp to the ms from its capture to its fused map's arrival.

    The fused map is one with all real drones within the fusion window of the frame; frames
    with none are left out.
    """
    stamps = sorted(full)
    out = {}
    for s in sent:
        near = [f for f in stamps if abs(f - s) <= WINDOW_NS]
        if near:
            out[s] = (min(full[f] for f in near) - s) / 1e6
    return out


def latency_summary(values: list[float]) -> dict:
    if len(values) < 2:
        return {'frames': len(values)}
    return {'frames': len(values), 'median_ms': round(statistics.median(values), 1),
            'p90_ms': round(statistics.quantiles(values, n=10)[8], 1)}


@pytest.mark.slow
def test_a_flood_of_fake_drones_is_refused_and_the_real_fleet_still_fused(tmp_path):
    import psutil
    import rclpy
    from rclpy.context import Context
    from rclpy.serialization import serialize_message

    from rsdfm_bench.soak import encode_fleet_maps
    from rsdfm_bringup.runner import GraphRunner
    from rsdfm_core.graph import fleet_graph

    maps, model_id = encode_fleet_maps(4, 10, seed=3)
    real = {a for a, _, _ in maps[0]}
    env = ros_test_env()
    # cold-started processes: a node forked from the warm server faults in the server's shared
    # library pages as it first runs their code, so its RSS grows (10.2 % in one run) without a
    # leak, and its USS still grows with warm-up (96 -> 128 MB in another); the memory check
    # is about the flood, so it watches a plain process as before
    runner = GraphRunner(fleet_graph(namespaces=sorted(real), parameters=PARAMETERS),
                         log_dir=tmp_path / 'logs', env=env, warm=False)
    context = Context()
    rclpy.init(context=context)
    watch = FusionWatch(context)
    feed = MapFeed(watch.node, maps, model_id)
    fake_map = tmp_path / 'map.cdr'
    fake_map.write_bytes(serialize_message(feed.feature('uav1', 0, time.time_ns())))
    flood = None
    try:
        runner.start(['/fusion_node', '/detection_node'])

        def alive() -> bool:
            assert not runner.exited(), f'nodes exited: {runner.exited()}; see {tmp_path}/logs'
            return True

        def graph_up() -> bool:
            return (alive() and all(feed.publisher(a).get_subscription_count() >= 1 for a in real)
                    and watch.node.count_publishers('/rsdfm/detections') >= 1
                    and watch.node.count_subscribers('/rsdfm/fused_bev') >= 2)
        wait_for(graph_up, timeout=120, interval=0.1, message='graph up')
        fusion = psutil.Process(runner.processes['/fusion_node'].pid)

        def rss_mb() -> float:
            return fusion.memory_info().rss / 2**20

        def cpu_s() -> tuple[float, float]:
            t = fusion.cpu_times()
            return time.monotonic(), t.user + t.system

        feed.start(sorted(real))
        wait_for(lambda: len(fused_with_all(watch.fused_maps(), real)) >= 30, timeout=60,
                 message='30 frames fused with all real drones (warm-up)')
        before, cpu = [], [cpu_s()]
        wait_for(lambda: before.append(rss_mb()) or len(before) >= MEMORY_SAMPLES, timeout=30,
                 interval=MEMORY_INTERVAL_S, message='memory before the flood sampled')
        flood_start = len(feed.sent)
        cpu.append(cpu_s())
        flood = subprocess.Popen([sys.executable, str(FLOOD_SCRIPT), '--map', str(fake_map),
                                  '--agents', str(FAKES), '--rate', str(FLOOD_HZ),
                                  '--duration', str(FLOOD_S)],
                                 env=env, stdout=subprocess.PIPE, text=True)
        during = []
        wait_for(lambda: alive() and (during.append(rss_mb()) or flood.poll() is not None),
                 timeout=FLOOD_S + 60, interval=1.0, message='flood over')
        flood_end = len(feed.sent)
        cpu.append(cpu_s())
        flood_out = [json.loads(line) for line in flood.stdout.read().splitlines()]
        assert flood.returncode == 0, flood_out

        def fakes_gone() -> bool:
            return (alive() and watch.fusion('agents_known') == str(len(real))
                    and watch.fusion('topics_subscribed') == str(len(real))
                    and watch.fusion('topics_parked') == '0')
        wait_for(fakes_gone, timeout=60, interval=0.2, message='nothing left of the fake drones')
        gone_after_s = (len(feed.sent) - flood_end) * feed.period
        after = []
        wait_for(lambda: after.append(rss_mb()) or len(after) >= MEMORY_SAMPLES, timeout=30,
                 interval=MEMORY_INTERVAL_S, message='memory after the flood sampled')
        cpu.append(cpu_s())
        feed.stop()
        last = feed.sent[-1]
        wait_for(lambda: any(s >= last - WINDOW_NS for s, _, _ in watch.fused_maps()),
                 timeout=30, message='last frame fused')
        diag = {k: watch.fusion(k) for k in ('received', 'refused.too_many_agents',
                                             'refused.rate_limited', 'refused.late',
                                             'agents_known', 'live_agents')}
    finally:
        if flood is not None and flood.poll() is None:
            flood.kill()
            flood.wait(10)
        feed.stop()
        watch.close()
        context.try_shutdown()
        runner.stop(timeout=20)

    sent = feed.sent
    latency = frame_latency_ms(sent, fused_with_all(watch.fused_maps(), real))
    phases = {'before': sent[:flood_start], 'during': sent[flood_start:flood_end],
              'after': sent[flood_end:]}
    judged = sent[flood_start:]
    fused_share = sum(1 for s in judged if s in latency) / len(judged)
    report = {
        'frames_judged': len(judged), 'fused_with_all_real_share': round(fused_share, 4),
        'latency': {p: latency_summary([latency[s] for s in stamps if s in latency])
                    for p, stamps in phases.items()},
        'fusion_rss_mb': {'before': round(min(before), 1), 'flood_peak': round(max(during), 1),
                          'after': round(min(after), 1)},
        'fusion_rss_mb_within_frames': {'before': round(max(before), 1),
                                        'after': round(max(after), 1)},
        'fusion_rss_mb_series': {'before': [round(m, 1) for m in before],
                                 'during': [round(m, 1) for m in during],
                                 'after': [round(m, 1) for m in after]},
        'fusion_cpu_percent': {p: round(100 * (c1 - c0) / (t1 - t0))
                               for p, (t0, c0), (t1, c1) in zip(phases, cpu, cpu[1:])},
        'fakes_gone_s_after_flood': round(gone_after_s, 1), 'flood': flood_out[-1],
        'diagnostics': diag,
    }
    (tmp_path / 'flood.json').write_text(json.dumps(report, indent=1))
    print('flood report:', json.dumps(report), file=sys.stderr)
    assert flood_out[-1]['sent'] >= 0.5 * FAKES * FLOOD_HZ * FLOOD_S, report   # it did flood
    assert fused_share >= 0.95, report
    assert int(diag['refused.too_many_agents']) >= FAKES, report     # every fake refused
    assert diag['live_agents'].split(',') == sorted(real), report
    assert abs(report['fusion_rss_mb']['after'] / report['fusion_rss_mb']['before'] - 1) <= 0.10, \
        report
