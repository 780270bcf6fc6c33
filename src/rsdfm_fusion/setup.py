"""Fleet-side ROS nodes of rsdfm, installed with colcon (ament_python)."""
from setuptools import find_packages, setup

package_name = 'rsdfm_fusion'

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
    description='Fleet-side ROS nodes of rsdfm: fusion, detection, segmentation, trajectories.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'fusion_node = rsdfm_fusion.fusion_node:main',
            'ground_station = rsdfm_fusion.ground_station:main',
            'detection_node = rsdfm_fusion.detection_node:main',
            'segmentation_node = rsdfm_fusion.segmentation_node:main',
            'task_node = rsdfm_fusion.task_node:main',
            'trajectory_node = rsdfm_fusion.trajectory_node:main',
        ],
    },
)
