"""Per-drone ROS node of rsdfm, installed with colcon (ament_python)."""
from setuptools import find_packages, setup

package_name = 'rsdfm_perception'

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
    description=('Per-drone ROS node of rsdfm: camera image and pose in, '
                 'compressed BEV feature map out.'),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'perception_node = rsdfm_perception.perception_node:main',
        ],
    },
)
