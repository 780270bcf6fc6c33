"""The shared ROS layer of rsdfm, installed with colcon (ament_python)."""
from setuptools import find_packages, setup

package_name = 'rsdfm_ros'

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
    description='Shared ROS layer of rsdfm: message conversions, QoS, diagnostics, parameters.',
    license='Apache-2.0',
)
