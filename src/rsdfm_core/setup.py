"""ROS-free core of rsdfm; also installable with plain pip (pip install -e src/rsdfm_core)."""
from setuptools import find_packages, setup

package_name = 'rsdfm_core'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    package_data={package_name: ['data/*', 'data/heads/*']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='rsdfm developers',
    maintainer_email='rsdfm@example.com',
    description='ROS-free core of rsdfm: geometry, world, model, codec, metrics, bag I/O.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'rsdfm = rsdfm_core.cli:main',
        ],
        # Subcommands of `rsdfm`: every package adds its own (rsdfm_bringup, rsdfm_bench).
        'rsdfm.commands': [
            'simulate = rsdfm_core.commands.simulate',
            'train = rsdfm_core.commands.train',
            'train-head = rsdfm_core.commands.train_head',
            'evaluate = rsdfm_core.commands.evaluate',
            'import = rsdfm_core.commands.import_dataset',
        ],
    },
)
