"""fleet-net's network plan, outage schedule and DDS profile, checked without root or ROS."""
import os
import xml.etree.ElementTree as ET

import pytest

from rsdfm_bringup.link_schedule import link_events, LinkEvent, outage_schedule, schedule_span
from rsdfm_bringup.net_plan import (auto_link_overhead, BACKGROUND_BYTES_PER_S, DRONE_IF,
                                    HEADER_SHARE, HEADROOM, link_command, LinkSpec, MAX_IFNAME,
                                    net_plan, setup_commands, shaping_commands, teardown_commands)
from rsdfm_bringup.netns_runner import NamespacedRunner, node_netns
from rsdfm_bringup.radio_dds import radio_environment, radio_profile_xml
from rsdfm_core.cli import main
from rsdfm_core.graph import fleet_graph

NS = '{http://www.eprosima.com}'


def _tbf(cmds):
    """(netns, device) -> (bit/s, burst bytes, latency ms) of the tbf commands."""
    out = {}
    for c in cmds:
        if c[0] == 'tc':
            args = dict(zip(c[9::2], c[10::2]))
            out[(c[2], c[6])] = (int(args['rate'][:-3]), int(args['burst']),
                                 float(args['latency'][:-2]))
    return out


def test_names_are_unique_per_run_and_carry_the_pid():
    a = net_plan(['uav1', 'uav2'], LinkSpec(), 0.25)
    b = net_plan(['uav1', 'uav2'], LinkSpec(), 0.25)
    assert str(os.getpid()) in a.run_id and a.run_id != b.run_id
    assert not set(a.namespaces) & set(b.namespaces)
    assert len(set(a.namespaces)) == 3 and all(n.startswith('rsdfm-net-') for n in a.namespaces)


def test_interfaces_fit_linux_names_and_addresses_differ():
    plan = net_plan(['uav1', 'a_very_long_drone_name'], LinkSpec(), 1.0)
    assert all(len(d.ground_if) <= MAX_IFNAME for d in plan.drones)
    assert plan.drones[0].ground_if == 'radio-uav1' and plan.drones[1].ground_if == 'radio2'
    assert len(set(plan.addresses)) == len(plan.addresses)


def test_links_start_at_the_real_rate_and_scale_with_the_replay():
    link = LinkSpec(mbit=5, burst_bytes=8192, queue_ms=250)
    plan = net_plan(['uav1', 'uav2'], link, rate=0.25)
    start = _tbf(setup_commands(plan))
    replay = _tbf(shaping_commands(plan, scaled=True))
    for d in plan.drones:     # both directions of every link are shaped
        for end in ((d.netns, DRONE_IF), (plan.ground_netns, d.ground_if)):
            assert start[end] == (5_000_000, 8192, 250.0)
            assert replay[end] == (1_250_000, 8192, 1000.0)
    # bytes per frame through the shaped link are those of the real link at the real frame rate
    assert plan.wall_bits_per_second() / (10 * plan.rate) == link.bits_per_second / 10


def test_teardown_deletes_every_namespace_and_links_toggle_the_bridge_end():
    plan = net_plan(['uav1', 'uav2'], LinkSpec(), 0.5)
    assert sorted(c[-1] for c in teardown_commands(plan)) == sorted(plan.namespaces)
    assert link_command(plan, 'uav2', False) == ['ip', '-n', plan.ground_netns, 'link', 'set',
                                                 'radio-uav2', 'down']
    with pytest.raises(KeyError, match='no drone'):
        link_command(plan, 'uav9', True)


@pytest.mark.parametrize('kwargs, words', [({'mbit': 0}, 'rate'), ({'burst_bytes': 100}, 'burst'),
                                           ({'queue_ms': -1}, 'queue')])
def test_bad_links_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words):
        LinkSpec(**kwargs)


def test_plan_refuses_bad_fleets():
    for drones, rate, words in ((['uav1', 'uav1'], 1.0, 'repeat'), ([], 1.0, 'at least one'),
                                (['uav1'], 0.0, 'rate')):
        with pytest.raises(ValueError, match=words):
            net_plan(drones, LinkSpec(), rate)


def test_auto_overhead_is_headers_background_and_headroom():
    one = auto_link_overhead(LinkSpec(mbit=1), rate=0.25)
    assert one == pytest.approx(HEADER_SHARE + HEADROOM + BACKGROUND_BYTES_PER_S / 31_250)
    # the background is wall-clock traffic: a smaller share of wider or less slowed links
    assert auto_link_overhead(LinkSpec(mbit=20), 0.25) < auto_link_overhead(LinkSpec(mbit=5), 0.25)
    assert auto_link_overhead(LinkSpec(mbit=1), 1.0) < one
    assert auto_link_overhead(LinkSpec(mbit=0.01), 0.25) == 0.9


def test_outages_parse_and_become_ordered_events():
    outages = outage_schedule(['uav2@5:10', 'uav1@2:3.5', 'uav2@10:12'], ['uav1', 'uav2'])
    assert [(o.drone, o.start_s, o.end_s) for o in outages] == [
        ('uav1', 2.0, 3.5), ('uav2', 5.0, 10.0), ('uav2', 10.0, 12.0)]
    events = link_events(outages)
    assert events[:2] == [LinkEvent(2.0, 'uav1', False), LinkEvent(3.5, 'uav1', True)]
    # at 10 s uav2 comes back before it goes down again
    assert events[3:5] == [LinkEvent(10.0, 'uav2', True), LinkEvent(10.0, 'uav2', False)]
    assert schedule_span(outages) == 12.0 and schedule_span([]) == 0.0


@pytest.mark.parametrize('item, words', [('uav2', 'DRONE@START:END'), ('uav3@1:2', 'no drone'),
                                         ('uav2@5:5', 'come back'), ('uav2@x:7', 'DRONE@START')])
def test_bad_outages_are_refused(item, words):
    with pytest.raises(ValueError, match=words):
        outage_schedule([item], ['uav1', 'uav2'])


def test_overlapping_outages_of_one_drone_are_refused():
    with pytest.raises(ValueError, match='overlap'):
        outage_schedule(['uav1@1:5', 'uav1@4:6'], ['uav1'])


def test_profile_is_udp_only_with_expiring_maps_and_scaled_announcements():
    root = ET.fromstring(radio_profile_xml(['/uav1/rsdfm/bev_feature'], lifespan=1.5,
                                           heartbeat=0.2, time_scale=0.25))
    profiles = root.find(f'{NS}profiles')
    assert [t.text for t in profiles.iter(f'{NS}type')] == ['UDPv4']
    part = profiles.find(f'{NS}participant')
    assert part.get('is_default_profile') == 'true'
    assert part.find(f'.//{NS}useBuiltinTransports').text == 'false'
    assert part.find(f'.//{NS}leaseAnnouncement/{NS}sec').text == '12'     # 3 s / 0.25
    assert part.find(f'.//{NS}leaseDuration/{NS}sec').text == '80'
    writer = profiles.find(f'{NS}data_writer')
    assert writer.get('profile_name') == '/uav1/rsdfm/bev_feature'
    assert writer.find(f'.//{NS}lifespan//{NS}sec').text == '1'
    assert writer.find(f'.//{NS}lifespan//{NS}nanosec').text == '500000000'
    assert writer.find(f'.//{NS}heartbeat_period/{NS}nanosec').text == '200000000'


def test_environment_keeps_the_processes_on_the_run_network():
    env = radio_environment({'ROS_LOCALHOST_ONLY': '1', 'ROS_STATIC_PEERS': '10.0.0.9',
                             'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'HOME': '/root'},
                            '/tmp/p.xml')
    assert env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'SUBNET'
    assert env['FASTDDS_DEFAULT_PROFILES_FILE'] == '/tmp/p.xml' and env['HOME'] == '/root'
    assert 'ROS_LOCALHOST_ONLY' not in env and 'ROS_STATIC_PEERS' not in env


def test_drone_nodes_run_in_their_namespace_and_central_nodes_on_the_ground():
    graph = fleet_graph(namespaces=['uav1', 'uav2'])
    plan = net_plan(['uav1', 'uav2'], LinkSpec(), 0.25)
    runner = NamespacedRunner(graph, plan)
    for spec in graph.nodes:
        cmd = runner.command(spec)
        assert cmd[:3] == ['ip', 'netns', 'exec'] and cmd[3] == node_netns(plan, spec)
        assert cmd[4:] == [runner.python, '-m', spec.module, *spec.ros_arguments()]
    assert node_netns(plan, graph.node('/uav2/perception_node')) == plan.drone('uav2').netns
    assert node_netns(plan, graph.node('/fusion_node')) == plan.ground_netns


def test_fleet_net_without_root_says_so_in_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    assert main(['fleet-net', '--bag', str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'fleet-net: error: needs root' in err, err
