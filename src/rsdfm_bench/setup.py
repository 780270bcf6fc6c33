"""Measurements of rsdfm (`rsdfm bench`, the loss soak), installed with colcon (ament_python)."""
from setuptools import find_packages, setup

package_name = 'rsdfm_bench'

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
    description='Measurements of rsdfm: rsdfm bench and the loss soak.',
    license='Apache-2.0',
    entry_points={'rsdfm.commands': ['bench = rsdfm_bench.command']},
)
