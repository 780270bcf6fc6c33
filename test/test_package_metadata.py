"""Every package.xml under src/ is valid (catkin_pkg, format 3, Apache-2.0) and complete.

It declares what its package's Python code imports, so `rosdep install` on a real ROS machine
brings everything in.

The imports of each package's .py files are read with ast (also those inside functions) and
mapped to rosdep keys with IMPORT_TO_ROSDEP below. A new third-party import needs a line there;
the keys follow rosdep's base.yaml names (python3-<name>), with the `-pip` suffix for packages
rosdep only knows from PyPI. ROS packages (rclpy, *_msgs, launch, ...) are their own keys.
test/test_rosdep_keys.py checks that rosdep really knows every key (torchmetrics and onnx, used
by the tests and benchmarks only, have none).
"""
from __future__ import annotations

from pathlib import Path
import re
import sys

from catkin_pkg.package import parse_package
import pytest

from helpers import top_level_imports

REPO_ROOT = Path(__file__).resolve().parent.parent
SRC = REPO_ROOT / 'src'

# Python import name -> rosdep key (extend when a package starts importing something new).
IMPORT_TO_ROSDEP = {
    'numpy': 'python3-numpy',
    'scipy': 'python3-scipy',
    'torch': 'python3-torch',
    'torchvision': 'python3-torchvision',
    'onnxruntime': 'python3-onnxruntime-pip',
    'yaml': 'python3-yaml',
    'cv2': 'python3-opencv',
    'shapely': 'python3-shapely',
    'matplotlib': 'python3-matplotlib',
    'psutil': 'python3-psutil',
    'PIL': 'python3-pil',
    'rosbags': 'python3-rosbags-pip',
    'nuscenes': 'python3-nuscenes-devkit-pip',
    # No rosdep key of their own: mcap-ros2-support (pip) brings mcap, which requires both others.
    'mcap': 'mcap-ros2-support',
    'zstandard': 'mcap-ros2-support',
    'lz4': 'mcap-ros2-support',
    'setuptools': 'python3-setuptools',
    'pytest': 'python3-pytest',
    'hypothesis': 'python3-hypothesis',
    'catkin_pkg': 'python3-catkin-pkg',
    'tf2_ros': 'tf2_ros_py',          # the Python tf2_ros module is the package tf2_ros_py
}
# ROS packages whose Python module name is the package name (besides any *_msgs / *_interfaces).
ROS_PACKAGES = {'rclpy', 'launch', 'launch_ros', 'launch_testing', 'ament_index_python',
                'rosidl_runtime_py', 'sensor_msgs_py', 'cv_bridge', 'tf2_py',
                'message_filters', 'rosbag2_py', 'rpyutils', 'rsdfm_core', 'rsdfm_msgs',
                'rsdfm_perception', 'rsdfm_fusion', 'rsdfm_ros', 'rsdfm_bringup',
                'rsdfm_bench'}
REQUIRED_ENTRY_POINTS = {
    'rsdfm_perception': ['perception_node'],
    'rsdfm_fusion': ['fusion_node', 'detection_node', 'segmentation_node', 'trajectory_node'],
}
EMAIL = re.compile(r'^[^@\s]+@[^@\s]+\.[a-z]{2,}$', re.IGNORECASE)

PACKAGE_XMLS = sorted(p for p in SRC.glob('*/package.xml'))


def rosdep_key(module: str) -> str | None:
    """Return the rosdep key a top-level import needs; None for the standard library."""
    if module in sys.stdlib_module_names or module == '__future__':
        return None
    if module in IMPORT_TO_ROSDEP:
        return IMPORT_TO_ROSDEP[module]
    if module in ROS_PACKAGES or module.endswith(('_msgs', '_interfaces', '_srvs')):
        return module
    raise KeyError(module)


def python_files(package_dir: Path) -> tuple[list[Path], list[Path]]:
    """(code files, test files) of a package, build leftovers excluded."""
    code, tests = [], []
    for path in sorted(package_dir.rglob('*.py')):
        rel = path.relative_to(package_dir)
        if any(part in ('build', 'install', '__pycache__') or part.endswith('.egg-info')
               for part in rel.parts):
            continue
        (tests if rel.parts[0] == 'test' else code).append(path)
    return code, tests


def test_there_are_packages() -> None:
    names = {p.parent.name for p in PACKAGE_XMLS}
    assert {'rsdfm_msgs', 'rsdfm_core', 'rsdfm_perception', 'rsdfm_fusion'} <= names


@pytest.mark.parametrize('package_xml', PACKAGE_XMLS, ids=lambda p: p.parent.name)
def test_package_xml_is_valid(package_xml: Path) -> None:
    package = parse_package(str(package_xml))
    package.validate()
    assert package.name == package_xml.parent.name
    assert package.package_format == 3
    assert [str(lic) for lic in package.licenses] == ['Apache-2.0']
    assert package.maintainers, 'no maintainer'
    for maintainer in package.maintainers:
        assert EMAIL.match(maintainer.email or ''), (
            f'invalid maintainer email {maintainer.email!r}'
        )
    assert package.get_build_type() in ('ament_cmake', 'ament_python')


@pytest.mark.parametrize('package_xml', PACKAGE_XMLS, ids=lambda p: p.parent.name)
def test_package_declares_its_imports(package_xml: Path) -> None:
    package = parse_package(str(package_xml))
    runtime = {d.name for d in package.exec_depends + package.build_export_depends}
    test_only = runtime | {d.name for d in package.test_depends}
    code, tests = python_files(package_xml.parent)
    missing, unknown = set(), set()
    for files, declared in ((code, runtime), (tests, test_only)):
        for path in files:
            for module in top_level_imports(path):
                if module == package.name or (path.parent / f'{module}.py').exists():
                    continue  # itself, or a sibling module imported as a script would
                try:
                    key = rosdep_key(module)
                except KeyError:
                    unknown.add(f'{module} ({path.relative_to(SRC)})')
                    continue
                if key and key not in declared and path.name != 'setup.py':
                    missing.add(f'{key} (import {module} in {path.relative_to(SRC)})')
    assert not unknown, (f'imports with no rosdep key: {sorted(unknown)}; add them to '
                         'IMPORT_TO_ROSDEP in test/test_package_metadata.py')
    assert not missing, f'{package.name}/package.xml lacks <exec_depend> for: {sorted(missing)}'


@pytest.mark.parametrize(
    'package_xml',
    [p for p in PACKAGE_XMLS if parse_package(str(p)).get_build_type() == 'ament_python'],
    ids=lambda p: p.parent.name,
)
def test_ament_python_layout(package_xml: Path) -> None:
    """Resource marker, package.xml installed, executables where `ros2 run` looks for them."""
    root = package_xml.parent
    name = root.name
    setup_py = (root / 'setup.py').read_text()
    assert (root / 'resource' / name).is_file(), f'missing resource/{name} marker'
    assert (root / name / '__init__.py').is_file(), f'missing {name}/__init__.py'
    assert "'resource/' + package_name" in setup_py or f"'resource/{name}'" in setup_py
    assert 'package.xml' in setup_py
    if (root / 'setup.cfg').exists():
        cfg = (root / 'setup.cfg').read_text()
        assert f'script_dir=$base/lib/{name}' in cfg.replace(' ', '')
        assert f'install_scripts=$base/lib/{name}' in cfg.replace(' ', '')
    for executable in REQUIRED_ENTRY_POINTS.get(name, []):
        assert re.search(rf"['\"]{executable}\s*=\s*{name}\.{executable}:main['\"]", setup_py), \
            f'{name}/setup.py lacks console script {executable}'
        assert (root / 'setup.cfg').exists(), f'{name} has executables but no setup.cfg'


def test_rosdep_key_mapping() -> None:
    """The mapping itself: stdlib ignored, ROS names kept, third-party mapped, unknown refused."""
    assert rosdep_key('os') is None
    assert rosdep_key('geometry_msgs') == 'geometry_msgs'
    assert rosdep_key('cv2') == 'python3-opencv'
    with pytest.raises(KeyError):
        rosdep_key('surely_not_a_known_module')
