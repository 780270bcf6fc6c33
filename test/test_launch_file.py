"""launch/fleet.launch.py, run by path and installed (share/rsdfm_bringup).

It expands into the nodes of the graph description, passes use_sim_time and the DDS profile of
`rsdfm run` to every node, and reads config/ from the checkout it runs from or, installed,
through the ament index.

test/ros/test_launch_installed.py runs the installed launch file for real.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
LAUNCH = REPO_ROOT / 'launch' / 'fleet.launch.py'
CONFIG_FILES = ('fleet.yaml', 'rsdfm.yaml', 'model.yaml', 'fastdds.xml', 'rsdfm.rviz')
# Set by the launch file or by other tests' processes; each test here starts without them.
LAUNCH_ENV = ('RSDFM_CONFIG_DIR', 'FASTDDS_DEFAULT_PROFILES_FILE',
              'FASTRTPS_DEFAULT_PROFILES_FILE')


@pytest.fixture
def clean_environ() -> Iterator[None]:
    """Keep LAUNCH_ENV out of os.environ during the test, and restore os.environ afterwards.

    Loading the launch file sets RSDFM_CONFIG_DIR in this process.
    """
    saved = dict(os.environ)
    for name in LAUNCH_ENV:
        os.environ.pop(name, None)
    yield
    os.environ.clear()
    os.environ.update(saved)


def load(path: Path) -> ModuleType:
    """Load the launch file as a module, as `ros2 launch` loads it."""
    if importlib.util.find_spec('launch_ros') is None:
        pytest.fail('launch_ros is not installed: scripts/setup.sh installs the ROS 2 tools from '
                    'RSDFM_ROS_SOURCES (default ../shared/vendor/ros2); see README.md',
                    pytrace=False)
    spec = importlib.util.spec_from_file_location('fleet_launch', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def share_dir() -> Path:
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory('rsdfm_bringup'))


def expand(module: ModuleType, **arguments: str) -> tuple[list, object]:
    """Return the actions of the launch description's node function for these launch arguments."""
    from launch import LaunchContext

    context = LaunchContext()
    context.launch_configurations.update({'drones': '4', 'namespaces': '', 'weights': '',
                                          'params_file': '', 'rviz': 'false', 'tasks': '',
                                          'ground_station': '', 'map_rate': '',
                                          'use_sim_time': 'false', 'respawn': 'true', **arguments})
    return module.generate_launch_description().entities[-1].execute(context), context


def params_files(node, context) -> list[Path]:
    """Return the --params-file arguments of a launch_ros Node's command line."""
    from launch.substitutions import TextSubstitution

    node._perform_substitutions(context)   # what Node.execute does first: writes dicts to files
    words = [part[0].text if isinstance(part[0], TextSubstitution) else None for part in node.cmd]
    return [Path(words[i + 1]) for i, word in enumerate(words[:-1]) if word == '--params-file']


def node_parameters(node, context) -> dict:
    """Return the parameters a launch_ros Node passes as dicts (the files besides rsdfm.yaml)."""
    params = {}
    for path in params_files(node, context):
        if path.name != 'rsdfm.yaml':
            for section in yaml.safe_load(path.read_text()).values():
                params.update(section['ros__parameters'])
    return params


def node_env(node, context) -> dict[str, str]:
    from launch.utilities import perform_substitutions

    return {perform_substitutions(context, key): perform_substitutions(context, value)
            for key, value in node.process_description.additional_env or []}


def test_launch_argument_tasks_starts_a_task_node_per_task(clean_environ) -> None:
    from launch_ros.actions import Node

    actions, context = expand(load(LAUNCH), drones='1', tasks='[road,stationary=/h/s.pt]')
    params = [node_parameters(n, context)
              for n in actions if isinstance(n, Node) and n.node_executable == 'task_node']
    tasks = {p['task']: p['head'] for p in params}
    assert tasks == {'road': '', 'stationary': '/h/s.pt'}


def test_launch_argument_map_rate_reaches_every_perception_node(clean_environ) -> None:
    from launch_ros.actions import Node

    from rsdfm_core.graph import GraphError

    module = load(LAUNCH)
    actions, context = expand(module, drones='3', map_rate='2.5')
    perception = [n for n in actions if isinstance(n, Node)
                  and n.node_executable == 'perception_node']
    assert len(perception) == 3
    assert all(node_parameters(n, context)['map_rate'] == 2.5 for n in perception)
    actions, context = expand(module, drones='1')
    assert all('map_rate' not in node_parameters(n, context)
               for n in actions if isinstance(n, Node) and n.condition is None)
    for bad in ('fast', '-1', 'inf'):
        with pytest.raises(GraphError, match=f"map_rate must be .* got '{bad}'"):
            expand(module, drones='1', map_rate=bad)


def test_launch_argument_ground_station_one_process_hosts_the_central_nodes(clean_environ):
    from launch.substitutions import TextSubstitution
    from launch_ros.actions import Node

    from rsdfm_core.graph import fleet_graph, member_arguments

    actions, context = expand(load(LAUNCH), drones='2', ground_station='one_process',
                              use_sim_time='true', tasks='[road]')
    nodes = [a for a in actions if isinstance(a, Node) and a.condition is None]
    assert [n.node_executable for n in nodes] == ['perception_node'] * 2 + ['ground_station']
    host = nodes[-1]
    host._perform_substitutions(context)
    words = [part[0].text for part in host.cmd[1:] if isinstance(part[0], TextSubstitution)]
    members, _ = member_arguments(words)
    expected = fleet_graph(drones=2, tasks='road').ros_nodes[2:]
    assert [m[0] for m in members] == [s.executable for s in expected]
    for (_, args), spec in zip(members, expected):
        assert f'__node:={spec.name}' in args and 'use_sim_time:=true' in args, args


@pytest.mark.parametrize('use_sim_time', ['false', 'true'])
def test_launch_file_describes_the_fleet_graph(clean_environ, use_sim_time) -> None:
    from launch_ros.actions import Node

    from rsdfm_bringup.runner import node_environment
    from rsdfm_core.graph import fleet_graph

    actions, context = expand(load(LAUNCH), drones='3', use_sim_time=use_sim_time)
    nodes = [a for a in actions if isinstance(a, Node)]
    expected = fleet_graph(drones=3)
    assert len(nodes) == len(expected.nodes) + 1   # + rviz2, conditional
    assert nodes[-1].condition is not None and not nodes[-1].condition.evaluate(context)
    assert sorted(n.node_executable for n in nodes[:-1]) == \
        sorted(s.executable for s in expected.nodes)
    profile = node_environment({})['FASTDDS_DEFAULT_PROFILES_FILE']
    assert profile == str(REPO_ROOT / 'config' / 'fastdds.xml')
    for node in nodes[:-1]:
        assert node_parameters(node, context)['use_sim_time'] is (use_sim_time == 'true')
        assert (
            node._ExecuteLocal__respawn and node._ExecuteLocal__respawn_delay == 1.0
        )  # no public getter
        assert node_env(node, context) == {'FASTDDS_DEFAULT_PROFILES_FILE': profile}


def test_launch_file_holds_a_crashed_nodes_participant_id_before_the_respawn(clean_environ):
    """After a crash (not after a clean exit or at shutdown) a participant placeholder starts."""
    from launch.actions import ExecuteProcess, RegisterEventHandler
    from launch.events.process import ProcessExited
    from launch_ros.actions import Node

    actions, context = expand(load(LAUNCH), drones='1')
    nodes = [a for a in actions if isinstance(a, Node) and a.condition is None]
    handlers = [a for a in actions if isinstance(a, RegisterEventHandler)]
    assert len(handlers) == len(nodes)
    for node, register in zip(nodes, handlers):
        handler = register.event_handler

        def exited(code, action=node):
            return ProcessExited(returncode=code, action=action, name=action.node_executable,
                                 cmd=['x'], cwd=None, env=None, pid=1)
        assert handler.matches(exited(-9))
        started = handler.handle(exited(-9), context)
        assert len(started) == 1 and isinstance(started[0], ExecuteProcess)
        words = [part[0].text for part in started[0].cmd]
        assert words[1:3] == ['-m', 'rsdfm_bringup.participant_placeholder'], words
        assert not handler.handle(exited(0), context)
    assert not [a for a in expand(load(LAUNCH), drones='1', respawn='false')[0]
                if isinstance(a, RegisterEventHandler)]


def test_launch_file_leaves_a_chosen_dds_profile_alone(clean_environ, tmp_path) -> None:
    from launch_ros.actions import Node

    os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(tmp_path / 'mine.xml')
    actions, context = expand(load(LAUNCH), drones='1')
    assert all(node_env(a, context) == {} for a in actions if isinstance(a, Node))


def test_launch_file_run_by_path_takes_the_checkout_config(clean_environ) -> None:
    module = load(LAUNCH)
    assert module.launch_config_dir() == REPO_ROOT / 'config'
    assert os.environ['RSDFM_CONFIG_DIR'] == str(REPO_ROOT / 'config')


def test_installed_launch_file_takes_config_through_the_ament_index(clean_environ) -> None:
    from launch_ros.actions import Node

    share = share_dir()
    installed = share / 'launch' / 'fleet.launch.py'
    assert installed.is_file(), 'rsdfm_bringup does not install launch/fleet.launch.py'
    for name in CONFIG_FILES:
        assert (share / 'config' / name).is_file(), f'rsdfm_bringup does not install config/{name}'
    module = load(installed)
    assert module.launch_config_dir() == share / 'config'
    assert os.environ['RSDFM_CONFIG_DIR'] == str(share / 'config')
    actions, context = expand(module, drones='2')
    nodes = [a for a in actions if isinstance(a, Node)][:-1]
    assert len(nodes) == 6
    for node in nodes:
        assert share / 'config' / 'rsdfm.yaml' in params_files(node, context)
        assert node_env(node, context) == {
            'FASTDDS_DEFAULT_PROFILES_FILE': str(share / 'config' / 'fastdds.xml')}


def test_launch_file_is_valid_python() -> None:
    compile(LAUNCH.read_text(), str(LAUNCH), 'exec')
