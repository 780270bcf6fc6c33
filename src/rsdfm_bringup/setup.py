"""ROS-side tools of rsdfm (runner, replay, recorder, demo), reached through the `rsdfm` command."""
from setuptools import find_packages, setup

package_name = 'rsdfm_bringup'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='rsdfm developers',
    maintainer_email='rsdfm@example.com',
    description='ROS-side tools of rsdfm: graph runner, bag replay and recorder, demo.',
    license='Apache-2.0',
    entry_points={'rsdfm.commands': [
        'replay = rsdfm_bringup.commands.replay',
        'record = rsdfm_bringup.commands.record',
        'run = rsdfm_bringup.commands.run',
        'demo = rsdfm_bringup.commands.demo',
    ]},
)
