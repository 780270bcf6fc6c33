"""Bring up the whole rsdfm graph for a drone fleet (run by path: ros2 launch launch/fleet.launch.py).

    ros2 launch launch/fleet.launch.py drones:=4
    ros2 launch launch/fleet.launch.py namespaces:=[uav1,uav3] weights:=model.pt rviz:=true
    ros2 launch launch/fleet.launch.py use_sim_time:=true   # with: ros2 bag play --clock 100 BAG

The node list comes from rsdfm_core.graph (config/fleet.yaml), the same description that
`rsdfm run` starts without launch_ros, so the two never disagree about the fleet layout.
"""
import os
from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

# The config/ beside this launch/ directory, also when rsdfm_core is installed elsewhere.
os.environ.setdefault('RSDFM_CONFIG_DIR', str(Path(__file__).resolve().parents[1] / 'config'))

from rsdfm_core.graph import config_dir, fleet_graph  # noqa: E402


def _nodes(context, *args, **kwargs):
    """Expand the fleet description with the launch arguments into launch_ros Node actions."""
    def arg(name):
        return LaunchConfiguration(name).perform(context)

    graph = fleet_graph(drones=int(arg('drones')), namespaces=arg('namespaces') or None,
                        weights=arg('weights') or None, params_file=arg('params_file') or None)
    # A recorded bag carries its capture stamps: with use_sim_time the nodes' clocks follow the
    # bag's /clock, so the fusion node's stamp-age check compares like with like.
    sim_time = {'use_sim_time': arg('use_sim_time').lower() in ('true', '1')}
    actions = []
    for spec in graph.nodes:
        actions.append(Node(
            package=spec.package, executable=spec.executable, name=spec.name,
            namespace=spec.namespace or None, output='screen',
            parameters=[*spec.params_files, {**spec.parameters, **sim_time}],
            remappings=list(spec.remappings)))
    actions.append(Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
                        arguments=['-d', graph.rviz_config], condition=IfCondition(arg('rviz'))))
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument('drones', default_value='4', description='number of drones: namespaces uav1..uavN'),
        DeclareLaunchArgument('namespaces', default_value='',
                              description='explicit drone namespaces, e.g. [uav1,uav3] (overrides drones)'),
        DeclareLaunchArgument('weights', default_value='', description='model checkpoint (empty = shipped weights)'),
        DeclareLaunchArgument('params_file', default_value=str(config_dir() / 'rsdfm.yaml'),
                              description='node parameters file'),
        DeclareLaunchArgument('rviz', default_value='false', description='start rviz2 with config/rsdfm.rviz'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='follow /clock (set true when replaying a bag with ros2 bag play --clock)'),
        OpaqueFunction(function=_nodes),
    ])
