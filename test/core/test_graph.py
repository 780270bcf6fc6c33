"""The fleet-graph description: one layout expanded for any fleet, consistent ROS arguments."""
import pytest

from rsdfm_core.graph import config_dir, drone_namespaces, fleet_graph, GraphError


def test_default_fleet_has_one_perception_node_per_drone_and_one_of_each_central_node():
    graph = fleet_graph()
    perception = [n for n in graph.nodes if n.executable == 'perception_node']
    assert (
        [n.namespace for n in perception]
        == list(graph.namespaces)
        == ['/uav1', '/uav2', '/uav3', '/uav4']
    )
    central = sorted(n.full_name for n in graph.nodes if not n.namespace)
    assert central == ['/detection_node', '/fusion_node', '/segmentation_node', '/trajectory_node']
    assert len({n.full_name for n in graph.nodes}) == len(graph.nodes)


def test_explicit_namespaces_override_the_count():
    graph = fleet_graph(drones=7, namespaces='[uav1, /scout_2]')
    assert graph.namespaces == ('/uav1', '/scout_2')
    assert graph.node('/scout_2/perception_node').namespace == '/scout_2'


def test_ros_arguments_carry_name_namespace_params_file_and_overrides():
    graph = fleet_graph(
        drones=1, weights='/tmp/w.pt', parameters={'threads': 1, 'agent_id': 'true'}
    )
    args = graph.node('/uav1/perception_node').ros_arguments()
    assert args[0] == '--ros-args'
    assert '__ns:=/uav1' in args and '__node:=perception_node' in args
    assert args[args.index('--params-file') + 1] == str(config_dir() / 'rsdfm.yaml')
    assert 'weights:=/tmp/w.pt' in args and 'threads:=1' in args
    assert "agent_id:='true'" in args   # a string that YAML would read as a bool stays a string


@pytest.mark.parametrize('kwargs, words', [
    ({'drones': 0}, 'at least one drone'),
    ({'namespaces': 'uav1,9bad'}, "bad drone namespace '9bad'"),
    ({'namespaces': 'uav1,uav1'}, 'repeat'),
    ({'drones': 2, 'params_file': '/nonexistent/p.yaml'}, 'parameters file not found'),
])
def test_bad_fleet_arguments_are_refused_with_a_clear_message(kwargs, words):
    with pytest.raises(GraphError, match=words):
        fleet_graph(**kwargs)


def test_parameters_file_names_every_node_of_the_layout():
    import yaml
    params = yaml.safe_load((config_dir() / 'rsdfm.yaml').read_text())
    for spec in fleet_graph(drones=2).nodes:
        assert f'/**/{spec.name}' in params, f'{spec.name} has no block in rsdfm.yaml'
        assert 'threads' in params[f'/**/{spec.name}']['ros__parameters']


def test_drone_namespaces_count():
    assert drone_namespaces(3) == ['/uav1', '/uav2', '/uav3']


def test_one_process_ground_station_hosts_the_central_nodes_with_their_own_arguments():
    from rsdfm_core.graph import member_arguments

    separate = fleet_graph(drones=2, tasks='road', weights='/tmp/w.pt')
    graph = fleet_graph(drones=2, tasks='road', weights='/tmp/w.pt', ground_station='one_process')
    assert [n.full_name for n in graph.nodes] == [
        '/uav1/perception_node', '/uav2/perception_node', '/ground_station']
    # the same ROS nodes with the same arguments, whichever process runs them
    assert [n.full_name for n in graph.ros_nodes] == [n.full_name for n in separate.ros_nodes]
    host = graph.node('/ground_station')
    members, rest = member_arguments([*host.ros_arguments(), '--ros-args', '--log-level', 'warn'])
    assert members == [(m.executable, m.ros_arguments()) for m in separate.nodes[2:]]
    assert members[-1][1][members[-1][1].index('-p') + 1:][:1] == ['task:=road']
    assert rest == ['--ros-args', '--log-level', 'warn']      # the process's own, untouched
    assert graph.fused_map_readers() == 0 and separate.fused_map_readers() == 4
    timed = host.with_parameters({'use_sim_time': True})
    assert all(m.parameters['use_sim_time'] is True for m in timed.members)


def test_ground_station_layout_is_checked():
    from rsdfm_core.graph import member_arguments

    with pytest.raises(GraphError, match='ground_station must be one of separate, one_process'):
        fleet_graph(drones=1, ground_station='two_process')
    with pytest.raises(GraphError, match='--node without an executable'):
        member_arguments(['--node'])
