"""Bring up the whole rsdfm graph for a drone fleet.

    ros2 launch rsdfm_bringup fleet.launch.py drones:=4         # installed (share/rsdfm_bringup)
    ros2 launch launch/fleet.launch.py drones:=4                 # by path, from a checkout
    ros2 launch rsdfm_bringup fleet.launch.py namespaces:=[uav1,uav3] weights:=model.pt rviz:=true
    ros2 launch rsdfm_bringup fleet.launch.py use_sim_time:=true  # with: ros2 bag play --clock BAG
    ros2 launch rsdfm_bringup fleet.launch.py tasks:=[road,building]  # new tasks' layers too
    ros2 launch rsdfm_bringup fleet.launch.py ground_station:=one_process  # central nodes in one

The node list comes from rsdfm_core.graph (config/fleet.yaml), the same description that
`rsdfm run` starts without launch_ros, so the two never disagree about the fleet layout; the
nodes get the same DDS settings as there (config/fastdds.xml, rsdfm_bringup.dds).
"""
import os
from pathlib import Path
import sys

from ament_index_python.packages import get_package_share_directory, PackageNotFoundError
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.actions import RegisterEventHandler
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def launch_config_dir() -> Path:
    """Return the config/ directory of this launch file.

    That is share/rsdfm_bringup/config (found through the ament index) when it is the installed
    copy, else the config/ beside launch/ in the checkout it runs from.
    """
    here = Path(os.path.abspath(__file__)).parent   # not resolved: the installed one may be a link
    try:
        share = Path(get_package_share_directory('rsdfm_bringup'))
    except PackageNotFoundError:
        return here.parent / 'config'
    beside = here.parent / 'config'
    installed = (share / 'launch').is_dir() and here.samefile(share / 'launch')
    if installed or not (beside / 'fleet.yaml').is_file():
        return share / 'config'
    return beside


# rsdfm_core.graph.config_dir() reads this: the fleet layout, parameters, rviz and DDS files.
os.environ.setdefault('RSDFM_CONFIG_DIR', str(launch_config_dir()))

from rsdfm_bringup.dds import rsdfm_dds_variables  # noqa: E402
from rsdfm_bringup.participant_placeholder import placeholder_argv  # noqa: E402
from rsdfm_core.graph import config_dir, fleet_graph, GraphError  # noqa: E402
from rsdfm_core.map_rate import map_period_ns  # noqa: E402

RESPAWN_DELAY_S = 1.0


def _placeholder_after_crash(dds: dict):
    """Return an on-exit handler that holds a crashed node's DDS participant ID.

    As the runner does before a restart (rsdfm_bringup.participant_placeholder): the respawned
    process then gets another participant ID, which the surviving ones deliver to at once.
    """
    def on_exit(event, context):
        if context.is_shutdown or event.returncode == 0:
            return None
        return [ExecuteProcess(
            cmd=[sys.executable, *placeholder_argv()],
            name=f'participant_placeholder_{event.action.name}', additional_env=dds,
            output='log')]
    return on_exit


def _map_rate(text: str) -> float:
    """Return the map_rate launch argument in Hz; raise a GraphError naming a bad one."""
    try:
        rate = float(text)
        map_period_ns(rate)
    except ValueError:
        raise GraphError(
            f'map_rate must be a number of maps per second >= 0, got {text!r}') from None
    return rate


def _nodes(context, *args, **kwargs):
    """Expand the fleet description with the launch arguments into launch_ros Node actions."""
    def arg(name):
        return LaunchConfiguration(name).perform(context)

    map_rate = {'map_rate': _map_rate(arg('map_rate'))} if arg('map_rate') else None
    graph = fleet_graph(drones=int(arg('drones')), namespaces=arg('namespaces') or None,
                        weights=arg('weights') or None, params_file=arg('params_file') or None,
                        parameters=map_rate,
                        tasks=arg('tasks') or None,
                        ground_station=arg('ground_station') or None)
    # A recorded bag carries its capture stamps: with use_sim_time the nodes' clocks follow the
    # bag's /clock, so the fusion node's stamp-age check compares like with like.
    sim_time = {'use_sim_time': arg('use_sim_time').lower() in ('true', '1')}
    dds = rsdfm_dds_variables()
    respawn = arg('respawn').lower() in ('true', '1')
    actions = []
    for spec in graph.nodes:
        # a crashed node comes back (launch has a fixed delay; rsdfm run backs off)
        again = {'respawn': respawn, 'respawn_delay': RESPAWN_DELAY_S if respawn else None}
        if spec.members:      # one process hosting several nodes: each member's own arguments
            node = Node(package=spec.package, executable=spec.executable, output='screen',
                        arguments=spec.with_parameters(sim_time).ros_arguments(),
                        additional_env=dds, **again)
        else:
            node = Node(
                package=spec.package, executable=spec.executable, name=spec.name,
                namespace=spec.namespace or None, output='screen',
                parameters=[*spec.params_files, {**spec.parameters, **sim_time}],
                remappings=list(spec.remappings), additional_env=dds, **again)
        actions.append(node)
        if respawn:
            actions.append(RegisterEventHandler(OnProcessExit(
                target_action=node, on_exit=_placeholder_after_crash(dds))))
    actions.append(Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
                        arguments=['-d', graph.rviz_config], parameters=[sim_time],
                        condition=IfCondition(arg('rviz'))))
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                'drones', default_value='4', description='number of drones: namespaces uav1..uavN'
            ),
            DeclareLaunchArgument(
                'namespaces',
                default_value='',
                description='explicit drone namespaces, e.g. [uav1,uav3] (overrides drones)',
            ),
            DeclareLaunchArgument(
                'weights',
                default_value='',
                description='model checkpoint (empty = shipped weights)',
            ),
            DeclareLaunchArgument(
                'params_file',
                default_value=str(config_dir() / 'rsdfm.yaml'),
                description='node parameters file',
            ),
            DeclareLaunchArgument(
                'tasks',
                default_value='',
                description='new BEV tasks, one task_node each, e.g. [road,building] or '
                '[parking=heads/parking.pt] (a head trained with rsdfm train-head)',
            ),
            DeclareLaunchArgument(
                'map_rate',
                default_value='',
                description="maps per second each drone sends (perception nodes' map_rate; "
                            '0 = one per image; empty = the parameters file)',
            ),
            DeclareLaunchArgument(
                'ground_station',
                default_value='',
                description='separate (each central node its own process) or one_process (one '
                'ground_station process, the fused map handed on in memory); empty = '
                "config/fleet.yaml's",
            ),
            DeclareLaunchArgument(
                'rviz', default_value='false', description='start rviz2 with config/rsdfm.rviz'
            ),
            DeclareLaunchArgument(
                'respawn',
                default_value='true',
                description=f'restart a node that crashed, after {RESPAWN_DELAY_S:g} s',
            ),
            DeclareLaunchArgument(
                'use_sim_time',
                default_value='false',
                description='follow /clock (set true when replaying a bag with '
                'ros2 bag play --clock or rsdfm replay --clock)',
            ),
            OpaqueFunction(function=_nodes),
        ]
    )
