"""ROS-side tools of rsdfm (runner, replay, recorder, demo), reached through the `rsdfm` command.

Also installs the fleet launch file and its configuration under share/rsdfm_bringup, so
`ros2 launch rsdfm_bringup fleet.launch.py` works. They live at the root of the repository
(launch/, config/), where `ros2 launch launch/fleet.launch.py` and `rsdfm run` use them too.
"""
import os
from pathlib import Path

from setuptools import find_packages, setup

package_name = 'rsdfm_bringup'
REPO_ROOT = Path(__file__).resolve().parents[2]   # setup.py may be a link in colcon's build/
CONFIG_FILES = [*sorted((REPO_ROOT / 'config').glob('*.yaml')),
                REPO_ROOT / 'config' / 'fastdds.xml', REPO_ROOT / 'config' / 'rsdfm.rviz']


def relative(path: Path) -> str:
    """`path` relative to where setup.py runs (setuptools refuses absolute data_files)."""
    return os.path.relpath(path, Path.cwd())


setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', [relative(REPO_ROOT / 'launch/fleet.launch.py')]),
        ('share/' + package_name + '/config', [relative(path) for path in CONFIG_FILES]),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='rsdfm developers',
    maintainer_email='rsdfm@example.com',
    description='ROS-side tools of rsdfm: graph runner, bag replay and recorder, demo, '
                'and the fleet launch file.',
    license='Apache-2.0',
    entry_points={'rsdfm.commands': [
        'replay = rsdfm_bringup.commands.replay',
        'record = rsdfm_bringup.commands.record',
        'run = rsdfm_bringup.commands.run',
        'demo = rsdfm_bringup.commands.demo',
        'fleet-net = rsdfm_bringup.commands.fleet_net',
    ]},
)
