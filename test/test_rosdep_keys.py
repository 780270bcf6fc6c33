"""Every dependency a package.xml names is one that rosdep resolves.

That is a rosdep key, a package released in ROS 2 Kilted, or a package of this workspace. A
made-up key (python3-foo-pip for a package rosdep does not know) makes
`rosdep install --from-paths src` fail on a ROS machine.

The lists come from shared/ beside the repository, or beside the one a local clone was made
from: rosdep-keys.txt (every key of rosdistro's rosdep/base.yaml and python.yaml) and
kilted-packages.txt (every package released in Kilted).
"""
from __future__ import annotations

from pathlib import Path

from catkin_pkg.package import parse_package
import pytest
from test_package_metadata import IMPORT_TO_ROSDEP, ROS_PACKAGES

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """Return shared/ beside the repository, or beside the local repository it was cloned from.

    The same places scripts/setup.sh looks for the ROS tool sources.
    """
    import subprocess

    bases = [REPO_ROOT]
    origin = subprocess.run(['git', '-C', str(REPO_ROOT), 'remote', 'get-url', 'origin'],
                            capture_output=True, text=True).stdout.strip()
    if origin and Path(origin).is_dir():
        bases.append(Path(origin))
    return next((b / '..' / 'shared' for b in bases if (b / '..' / 'shared').is_dir()),
                REPO_ROOT / '..' / 'shared')


SHARED = shared_dir()
ROSDEP_KEYS = SHARED / 'rosdep-keys.txt'
KILTED_PACKAGES = SHARED / 'kilted-packages.txt'
PACKAGE_XMLS = sorted((REPO_ROOT / 'src').glob('*/package.xml'))
WORKSPACE_PACKAGES = {path.parent.name for path in PACKAGE_XMLS}
DEPENDENCY_KINDS = ('build_depends', 'buildtool_depends', 'build_export_depends',
                    'buildtool_export_depends', 'exec_depends', 'test_depends', 'doc_depends')


def read_names(path: Path) -> set[str]:
    """One name a line; a missing list fails the test (it must never pass for want of data)."""
    if not path.is_file():
        pytest.fail(f'{path.resolve()} not found: the rosdep lists live in shared/ beside the '
                    'repository (as in CI); without them no dependency can be checked',
                    pytrace=False)
    names = {line.strip() for line in path.read_text().splitlines() if line.strip()}
    assert len(names) > 1000, f'{path} lists only {len(names)} names: truncated?'
    return names


@pytest.fixture(scope='module')
def resolvable() -> set[str]:
    return read_names(ROSDEP_KEYS) | read_names(KILTED_PACKAGES) | WORKSPACE_PACKAGES


def test_lists_know_common_keys(resolvable) -> None:
    assert {'python3-numpy', 'rclpy', 'sensor_msgs', 'launch_ros'} <= resolvable
    assert 'python3-surely-not-a-key-pip' not in resolvable


@pytest.mark.parametrize('package_xml', PACKAGE_XMLS, ids=lambda p: p.parent.name)
def test_every_dependency_is_resolvable(package_xml: Path, resolvable) -> None:
    package = parse_package(str(package_xml))
    names = {dep.name for kind in DEPENDENCY_KINDS for dep in getattr(package, kind)}
    unknown = sorted(names - resolvable)
    assert not unknown, (
        f'{package.name}/package.xml names what rosdep cannot resolve: {unknown}; '
        'use a key from shared/rosdep-keys.txt or a Kilted package, or drop it '
        'and say how it is installed'
    )


def test_import_mapping_names_only_resolvable_keys(resolvable) -> None:
    """test_package_metadata asks packages to declare these: they must be real too."""
    wanted = set(IMPORT_TO_ROSDEP.values()) | (ROS_PACKAGES - WORKSPACE_PACKAGES)
    assert sorted(wanted - resolvable) == []
