"""The network of one `rsdfm fleet-net` run, written down before anything is created (ROS-free).

Layout: one network namespace for the ground station and one per drone, all named after the
run (`rsdfm-net-<pid>-<hex>-ground`, `...-uav1`) so two runs never share anything. The ground
namespace holds a Linux bridge carrying the ground station's address; each drone is joined to
it by a veth pair (`radio0` in the drone, `radio-<drone>` on the bridge), its radio link. Both
ends of a link are shaped with tbf, so each direction carries at most the link's rate.

While the replay runs, rates and queues scale with the replay rate: a run at a quarter of real
time gives each link a quarter of its bit rate and four times its queueing time, so every
frame meets a link of the right width for its bytes. Burst sizes are bytes and stay as given.
Before that, while the nodes start and discover each other, the links run at their real rate:
ROS 2 discovery runs on the wall clock (announcement and heartbeat periods, repairs), so it
meets the link a fleet flying in real time would have.

Addresses are fixed (10.77.0.1 ground, 10.77.0.11... drones): each run's namespaces are
separate network stacks, so they cannot clash.
"""
from __future__ import annotations

from dataclasses import dataclass
import os
import secrets

NETNS_PREFIX = 'rsdfm-net-'
SUBNET = '10.77.0'
PREFIX_LEN = 24
BRIDGE = 'radio-br'
DRONE_IF = 'radio0'
MAX_IFNAME = 15            # Linux interface names
MAX_DRONES = 200
MIN_BURST_BYTES = 1600     # tbf drops packets larger than its burst: at least one 1500-byte frame
# What a drone sends besides its maps' payload, measured on the links of fleet-net runs (2
# drones, 5 and 1 Mbit/s): IP fragment, UDP and RTPS headers of a map (2.7 % of 37 KB maps,
# 3.2 % of 11 KB), and wall-clock traffic of about 3.5 KB/s: /diagnostics, heartbeats,
# acknowledgements, participant announcements.
HEADER_SHARE = 0.035
BACKGROUND_BYTES_PER_S = 3500.0
HEADROOM = 0.10            # left free, so a link's queue drains between maps
MAX_OVERHEAD = 0.9


@dataclass(frozen=True)
class LinkSpec:
    """One radio link as flown: real-time figures, before scaling to the replay rate."""

    mbit: float = 5.0          # bit rate, Mbit/s, each direction
    burst_bytes: int = 8192    # bytes the link may send at once above its rate
    queue_ms: float = 250.0    # longest a packet may wait in the link's queue before it is dropped

    def __post_init__(self) -> None:
        if not self.mbit > 0:
            raise ValueError(f'link rate must be > 0 Mbit/s, got {self.mbit:g}')
        if self.burst_bytes < MIN_BURST_BYTES:
            raise ValueError(f'link burst must be at least {MIN_BURST_BYTES} bytes (one frame), '
                             f'got {self.burst_bytes}')
        if not self.queue_ms > 0:
            raise ValueError(f'link queue must be > 0 ms, got {self.queue_ms:g}')

    @property
    def bits_per_second(self) -> int:
        """The real-time bit rate (what the drone's codec budget is sized for)."""
        return int(round(self.mbit * 1e6))


@dataclass(frozen=True)
class DroneLink:
    """One drone's namespace, address and the two ends of its radio link."""

    name: str              # drone namespace without the slash, e.g. uav1
    netns: str
    address: str
    ground_if: str         # the link's end on the ground station's bridge


@dataclass(frozen=True)
class NetPlan:
    """Everything one run creates: namespaces, bridge, links, shaping."""

    run_id: str
    ground_netns: str
    ground_address: str
    drones: tuple[DroneLink, ...]
    link: LinkSpec
    rate: float            # replay rate: 0.25 = a quarter of real time

    @property
    def namespaces(self) -> list[str]:
        """Every namespace of the run, ground first."""
        return [self.ground_netns] + [d.netns for d in self.drones]

    @property
    def addresses(self) -> list[str]:
        return [self.ground_address] + [d.address for d in self.drones]

    def drone(self, name: str) -> DroneLink:
        for d in self.drones:
            if d.name == name:
                return d
        raise KeyError(f'no drone {name!r} in this run; have {[d.name for d in self.drones]}')

    def wall_bits_per_second(self, scaled: bool = True) -> int:
        """Return the shaped rate: the link's rate, times the replay rate when scaled."""
        return max(1, int(round(self.link.bits_per_second * (self.rate if scaled else 1.0))))

    def wall_queue_ms(self, scaled: bool = True) -> float:
        """Return the shaped queueing time: the link's queue, over the replay rate if scaled."""
        return self.link.queue_ms / (self.rate if scaled else 1.0)


def auto_link_overhead(link: LinkSpec, rate: float) -> float:
    """Return the share of a link the codec budget should leave to all but map payload.

    That is the headers, the background traffic (on the wall clock, so a larger share of a
    slowed replay's shaped link, whose rate is link x rate) and some headroom.
    """
    background = BACKGROUND_BYTES_PER_S / (link.bits_per_second * rate / 8.0)
    return min(MAX_OVERHEAD, HEADER_SHARE + background + HEADROOM)


def new_run_id() -> str:
    """`<pid>-<4 hex>`: unique among concurrent runs (pid) and among runs of one process."""
    return f'{os.getpid()}-{secrets.token_hex(2)}'


def ground_if_name(name: str, index: int) -> str:
    """Name the bridge end of a drone's link: radio-<drone>, or radio<i> for long names."""
    readable = f'radio-{name}'
    return readable if len(readable) <= MAX_IFNAME else f'radio{index}'


def net_plan(drones: list[str], link: LinkSpec, rate: float, run_id: str | None = None) -> NetPlan:
    """Plan the network for these drones (namespaces without slashes) on links like `link`."""
    if not drones:
        raise ValueError('a fleet-net run needs at least one drone')
    if len(drones) > MAX_DRONES:
        raise ValueError(f'at most {MAX_DRONES} drones, got {len(drones)}')
    if len(set(drones)) != len(drones):
        raise ValueError(f'drone names repeat: {drones}')
    if not rate > 0:
        raise ValueError(f'replay rate must be > 0, got {rate:g}')
    run_id = run_id or new_run_id()
    base = f'{NETNS_PREFIX}{run_id}-'
    links = tuple(DroneLink(name, base + name, f'{SUBNET}.{11 + i}', ground_if_name(name, i + 1))
                  for i, name in enumerate(drones))
    return NetPlan(run_id, base + 'ground', f'{SUBNET}.1', links, link, rate)


def tbf_command(netns: str, device: str, bits_per_second: int, burst_bytes: int,
                latency_ms: float) -> list[str]:
    """Return the tc command shaping `device` in `netns` to that rate, burst and queue."""
    return ['tc', '-n', netns, 'qdisc', 'replace', 'dev', device, 'root', 'tbf',
            'rate', f'{bits_per_second}bit', 'burst', str(burst_bytes),
            'latency', f'{latency_ms:.0f}ms']


def setup_commands(plan: NetPlan) -> list[list[str]]:
    """ip/tc commands that build the plan's network, in order (run as root)."""
    g, cidr = plan.ground_netns, f'/{PREFIX_LEN}'
    cmds = [['ip', 'netns', 'add', ns] for ns in plan.namespaces]
    cmds += [['ip', '-n', ns, 'link', 'set', 'lo', 'up'] for ns in plan.namespaces]
    cmds += [['ip', '-n', g, 'link', 'add', BRIDGE, 'type', 'bridge', 'mcast_snooping', '0'],
             ['ip', '-n', g, 'addr', 'add', plan.ground_address + cidr, 'dev', BRIDGE],
             ['ip', '-n', g, 'link', 'set', BRIDGE, 'up'],
             # DDS discovery is multicast: route it onto the bridge (no default route here)
             ['ip', '-n', g, 'route', 'add', '224.0.0.0/4', 'dev', BRIDGE]]
    for d in plan.drones:
        cmds += [['ip', '-n', g, 'link', 'add', d.ground_if, 'type', 'veth',
                  'peer', 'name', DRONE_IF, 'netns', d.netns],
                 ['ip', '-n', g, 'link', 'set', d.ground_if, 'master', BRIDGE],
                 ['ip', '-n', d.netns, 'addr', 'add', d.address + cidr, 'dev', DRONE_IF],
                 ['ip', '-n', g, 'link', 'set', d.ground_if, 'up'],
                 ['ip', '-n', d.netns, 'link', 'set', DRONE_IF, 'up'],
                 ['ip', '-n', d.netns, 'route', 'add', '224.0.0.0/4', 'dev', DRONE_IF]]
    return cmds + shaping_commands(plan, scaled=False)


def shaping_commands(plan: NetPlan, scaled: bool) -> list[list[str]]:
    """Return the tc commands shaping both ends of every link.

    At the real rate (start-up) or scaled to the replay rate (while the replay runs).
    """
    bps, queue = plan.wall_bits_per_second(scaled), plan.wall_queue_ms(scaled)
    burst = plan.link.burst_bytes
    return [cmd for d in plan.drones
            for cmd in (tbf_command(d.netns, DRONE_IF, bps, burst, queue),         # uplink
                        tbf_command(plan.ground_netns, d.ground_if, bps, burst, queue))]


def teardown_commands(plan: NetPlan) -> list[list[str]]:
    """Delete the namespaces, and with them the bridge, veth pairs and qdiscs inside them."""
    return [['ip', 'netns', 'delete', ns] for ns in reversed(plan.namespaces)]


def link_command(plan: NetPlan, drone: str, up: bool) -> list[str]:
    """Take a drone's radio link down or bring it back.

    Its bridge end, so the drone's interface loses carrier as a radio out of range does.
    """
    return ['ip', '-n', plan.ground_netns, 'link', 'set', plan.drone(drone).ground_if,
            'up' if up else 'down']


def exec_prefix(netns: str) -> list[str]:
    """Prefix that runs a command inside `netns`."""
    return ['ip', 'netns', 'exec', netns]
