"""One fleet-net run: the fleet graph spread over network namespaces joined by shaped radio links.

Builds the run's network (FleetNetwork), starts each drone's perception node and camera replay
in the drone's namespace and the central nodes with the ground observer (recorder, link
monitor) in the ground station's, waits until the graph is connected across the links, reads
the links' byte counters, starts every camera at the same wall time, takes links down and up
as scheduled, waits for the detections, reads the counters again and removes everything:
processes, links and namespaces, whatever happened (the caller turns SIGTERM into
KeyboardInterrupt, so an interrupted run is cleaned up too).
"""
from __future__ import annotations

from dataclasses import dataclass, field
import json
from pathlib import Path
import shutil
import signal
import sys
import threading
import time

from rsdfm_bringup.line_process import LineProcess
from rsdfm_bringup.link_schedule import link_events, LinkEvent, Outage, schedule_span
from rsdfm_bringup.net_plan import auto_link_overhead, exec_prefix, LinkSpec, net_plan, NetPlan
from rsdfm_bringup.netns import FleetNetwork, LinkCounters
from rsdfm_bringup.netns_runner import NamespacedRunner
from rsdfm_bringup.radio_dds import radio_environment, radio_profile_xml
from rsdfm_bringup.runner import node_environment
from rsdfm_core.bag import BagSource
from rsdfm_core.graph import fleet_graph

GO_DELAY_S = 1.0         # between telling the replays the start time and their first frame
QUIET_SHARE = 0.25       # links carrying less than this share of their rate have settled


class FleetNetError(RuntimeError):
    """The run could not go on; the message says where to look (node logs)."""


@dataclass
class FleetNetOptions:
    bag: Path
    drones: list[str]
    out: Path
    link: LinkSpec = field(default_factory=LinkSpec)
    rate: float = 0.25
    outages: list[Outage] = field(default_factory=list)
    fit: bool = True                  # set each perception node's max_bitrate to the link rate
    link_overhead: float | None = None  # share of the link left to headers etc.; None = auto
    map_lifespan: float = 1.5         # frames a drone's map may take to cross its link
    parameters: dict = field(default_factory=dict)      # overrides for every node
    ready_timeout: float = 240.0
    settle_timeout: float = 60.0
    idle_timeout: float = 20.0


@dataclass
class FleetNetRun:
    """What a run measured, for fleet_net_figures."""

    plan: NetPlan
    record_dir: Path
    offset_ns: int
    sent_at: dict[str, dict[int, int]]          # drone -> bag stamp -> wall ns published
    before: dict[str, LinkCounters]
    after: dict[str, LinkCounters]
    events: list[tuple[LinkEvent, int]]          # scheduled event, wall ns it happened
    detections: int
    seconds: float = 0.0            # the whole run, network up to everything removed
    connect_s: float = 0.0          # network up -> graph connected across the links
    settle_s: float = 0.0           # connected -> discovery traffic on the links died down
    node_exit_codes: dict = field(default_factory=dict)     # 0: stopped cleanly at the end


def _log(msg: str) -> None:
    print(f'fleet-net: {msg}', file=sys.stderr, flush=True)


def node_parameters(opts: FleetNetOptions) -> dict:
    """Return the parameters for every node.

    One thread each, reliable camera input, poses from each drone's camera/pose (its replay;
    /tf is one topic for the fleet and would cross every link), and the link's bit rate as the
    drone's budget when fitting.
    """
    overhead = (auto_link_overhead(opts.link, opts.rate) if opts.link_overhead is None
                else opts.link_overhead)
    params = {'threads': 1, 'image_qos': 'reliable', 'pose_source': 'topic',
              'max_bitrate': opts.link.bits_per_second if opts.fit else 0,
              'link_overhead': round(overhead, 4)}
    return {**params, **opts.parameters}


def bag_frames(bag: Path, drones: list[str]) -> tuple[int, float]:
    """Count the first drone's camera frames in the bag and return them with the bag's span (s).

    FleetNetError when a drone's camera is missing.
    """
    src = BagSource(bag)
    for d in drones:
        if f'/{d}/camera/image_raw' not in src.topics:
            raise FleetNetError(f'{bag} has no camera of {d}; it has {sorted(src.topics)}')
    frames = sum(1 for _ in src.messages([f'/{drones[0]}/camera/image_raw']))
    return frames, (src.end_ns - src.start_ns) / 1e9


class _Processes:
    """Everything started by one run, stopped in reverse order."""

    def __init__(self) -> None:
        self.runner: NamespacedRunner | None = None
        self.helpers: list[LineProcess] = []

    def stop(self, quick: bool) -> dict[str, int | None]:
        """Stop everything (quick: shorter grace periods); the graph nodes' exit codes."""
        for helper in reversed(self.helpers):
            helper.stop(timeout=2.0 if quick else 30.0)
        return self.runner.stop(timeout=5.0 if quick else 15.0) if self.runner else {}


def _shield_signals() -> dict:
    """Ignore SIGINT/SIGTERM/SIGHUP while cleaning up (main thread only); the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, signal.SIG_IGN)
            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}


def _restore_signals(old: dict) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)


def run_fleet_net(opts: FleetNetOptions) -> FleetNetRun:
    """Run the bag through the fleet over its radio links; everything is removed afterwards."""
    started = time.monotonic()
    frames, span_s = bag_frames(opts.bag, opts.drones)
    plan = net_plan(opts.drones, opts.link, opts.rate)
    network = FleetNetwork(plan)
    procs = _Processes()
    run = None
    try:
        network.create()
        _log(f'run {plan.run_id}: {len(plan.drones)} drones, links of {opts.link.mbit:g} Mbit/s, '
             f'shaped to {plan.wall_bits_per_second() / 1e6:.3g} Mbit/s during the replay '
             f'(rate {opts.rate:g})')
        run = _run_graph(opts, plan, network, procs, frames, span_s)
    finally:
        old = _shield_signals()
        try:
            codes = procs.stop(quick=run is None)
            for problem in network.destroy():
                _log(problem)
        finally:
            _restore_signals(old)
    run.node_exit_codes = codes
    run.seconds = time.monotonic() - started
    return run


def map_lifespan_s(opts: FleetNetOptions, frame_period_s: float) -> float:
    """Return the wall seconds a map lives in its writer.

    That is map_lifespan frame periods of the bag, slowed by the replay rate. An older map is
    stale (a newer one is on its way) and resending it after an outage only delays the fresh
    ones.
    """
    return opts.map_lifespan * frame_period_s / opts.rate


def _start(opts: FleetNetOptions, plan: NetPlan, procs: _Processes,
           frame_period_s: float) -> tuple[LineProcess, dict]:
    """Start the graph, the ground observer and the camera replays; the observer, the replays."""
    out, logs = opts.out, opts.out / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    profile = out / 'fastdds_radio.xml'
    profile.write_text(radio_profile_xml([f'/{d}/rsdfm/bev_feature' for d in opts.drones],
                                         lifespan=map_lifespan_s(opts, frame_period_s),
                                         time_scale=opts.rate))
    env = radio_environment(node_environment(), profile)
    graph = fleet_graph(namespaces=opts.drones, parameters=node_parameters(opts))
    procs.runner = NamespacedRunner(graph, plan, log_dir=logs, env=env)
    procs.runner.start()
    py = [sys.executable, '-m']
    record = out / 'record'
    shutil.rmtree(record, ignore_errors=True)
    links = [f'--link={d.name}={d.ground_if}' for d in plan.drones]
    ground = LineProcess('ground', exec_prefix(plan.ground_netns) + py + [
        'rsdfm_bringup.ground_watch', '--record', str(record), '--drones', ','.join(opts.drones),
        *links], env, logs / 'ground_watch.log')
    procs.helpers.append(ground)
    replays = {}
    for d in plan.drones:
        replays[d.name] = LineProcess(d.name, exec_prefix(d.netns) + py + [
            'rsdfm_bringup.drone_replay', '--bag', str(opts.bag), '--drone', d.name,
            '--rate', str(opts.rate), '--sent-at', str(out / f'sent_at_{d.name}.json')],
            env, logs / f'replay_{d.name}.log')
        procs.helpers.append(replays[d.name])
    return ground, replays


def _wait_connected(opts: FleetNetOptions, procs: _Processes, ground: LineProcess,
                    replays: dict) -> None:
    deadline = time.monotonic() + opts.ready_timeout
    waiting = [ground, *replays.values()]
    logs = opts.out / 'logs'
    while waiting:
        if procs.runner.exited():
            raise FleetNetError(f'nodes exited early: {procs.runner.exited()}; see {logs}')
        for helper in waiting:
            if helper.proc.poll() is not None:
                raise FleetNetError(f'{helper.name} helper exited; see {helper.log_path}')
        waiting = [h for h in waiting if h.said('ready') is None]
        if time.monotonic() > deadline:
            raise FleetNetError(f'graph not connected across the links after '
                                f'{opts.ready_timeout:g} s (waiting for '
                                f'{[h.name for h in waiting]}); see {logs}')
        time.sleep(0.2)


def _link_rates(network: FleetNetwork, seconds: float) -> dict[str, float]:
    """Bytes per second through each drone link (busier direction) over the next `seconds`."""
    a = network.counters()
    time.sleep(seconds)
    b = network.counters()
    return {d: max(b[d].drone.tx_bytes - a[d].drone.tx_bytes,
                   b[d].ground.tx_bytes - a[d].ground.tx_bytes) / seconds for d in a}


def wait_links_quiet(network: FleetNetwork, timeout: float, window: float = 1.0) -> float:
    """Wait until every link carries less than QUIET_SHARE of its rate.

    ROS 2 discovery (every endpoint of every node announced to every participant) keeps a slow
    link busy for a while after the graph is connected. Returns the seconds waited (timeout if
    it never settled).
    """
    started = time.monotonic()
    limit = QUIET_SHARE * network.plan.wall_bits_per_second(scaled=False) / 8
    while time.monotonic() - started < timeout:
        if max(_link_rates(network, window).values()) < limit:
            break
    return time.monotonic() - started


def _play_with_schedule(opts: FleetNetOptions, network: FleetNetwork, replays: dict,
                        go_ns: int, timeout: float) -> list[tuple[LinkEvent, int]]:
    """Let the replays play from go_ns, taking links down and up on time; the events done."""
    for replay in replays.values():
        replay.send(f'go {go_ns}')
    done = []
    for event in link_events(opts.outages):
        due = go_ns + int(event.at_s * 1e9)
        while time.time_ns() < due:
            time.sleep(min(0.05, max(0.0, (due - time.time_ns()) / 1e9)))
        network.set_link(event.drone, event.up)
        done.append((event, time.time_ns()))
        _log(f'link {event.drone} {"up" if event.up else "down"} at {event.at_s:g} s')
    deadline = time.monotonic() + timeout
    for replay in replays.values():
        if replay.wait_said('done', timeout=max(1.0, deadline - time.monotonic())) is None:
            raise FleetNetError(f'camera replay of {replay.name} did not finish; '
                                f'see {replay.log_path}')
    return done


def _read_sent_at(out: Path, drones: list[str]) -> tuple[int, dict[str, dict[int, int]]]:
    offsets, sent = set(), {}
    for d in drones:
        data = json.loads((out / f'sent_at_{d}.json').read_text())
        offsets.add(int(data['offset_ns']))
        sent[d] = {int(k): int(v) for k, v in data['sent_at'].items()}
    if len(offsets) != 1:
        raise FleetNetError(f'the camera replays restamped differently: {sorted(offsets)}')
    return offsets.pop(), sent


def _run_graph(opts: FleetNetOptions, plan: NetPlan, network: FleetNetwork, procs: _Processes,
               frames: int, span_s: float) -> FleetNetRun:
    ground, replays = _start(opts, plan, procs, span_s / max(1, frames - 1))
    _log(f'waiting for {len(procs.runner.graph.nodes)} nodes to connect across the links')
    started = time.monotonic()
    _wait_connected(opts, procs, ground, replays)
    connect_s = time.monotonic() - started
    settle_s = wait_links_quiet(network, opts.settle_timeout)
    _log(f'connected after {connect_s:.1f} s, links quiet {settle_s:.1f} s later')
    network.shape(scaled=True)
    before = network.counters()
    go_ns = time.time_ns() + int(GO_DELAY_S * 1e9)
    _log(f'graph connected; playing {frames} frames per drone at rate {opts.rate:g}')
    play_s = GO_DELAY_S + max(span_s / opts.rate, schedule_span(opts.outages)) + 60.0
    events = _play_with_schedule(opts, network, replays, go_ns, play_s)
    ground.send(f'finish {frames} {opts.idle_timeout}')
    line = ground.wait_said('finished', timeout=opts.idle_timeout + frames / opts.rate + 60)
    if line is None:
        raise FleetNetError(f'the ground observer did not finish; see {ground.log_path}')
    after = network.counters()        # before the observer closes its bag (discovery traffic)
    if ground.wait_said('done', timeout=30.0) is None:
        raise FleetNetError(f'the ground observer did not close its bag; see {ground.log_path}')
    detections = int(line.split()[1])
    if detections < frames:
        _log(f'only {detections} of {frames} frames gave detections')
    offset_ns, sent_at = _read_sent_at(opts.out, opts.drones)
    return FleetNetRun(plan, opts.out / 'record', offset_ns, sent_at, before, after, events,
                       detections, connect_s=connect_s, settle_s=settle_s)
