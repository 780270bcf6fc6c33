"""The code follows the ROS 2 style: ament_flake8 finds nothing in it.

ament_flake8 (the linter of ament_lint, with its own settings and plugins: line length 99, google
import order, docstrings, single quotes, ...) checks src/, test/, launch/ and benchmarks/.
`.flake8` holds ament_flake8's settings plus this workspace's package names (so rsdfm imports
group after third-party ones).

    source env.sh && ament_flake8 --config .flake8 src test launch benchmarks
"""
from __future__ import annotations

from pathlib import Path

from ament_flake8.main import main_with_errors

REPO_ROOT = Path(__file__).resolve().parent.parent
CHECKED = ('src', 'test', 'launch', 'benchmarks')


def test_ament_flake8_finds_nothing(capsys) -> None:
    code, errors = main_with_errors(
        argv=['--config', str(REPO_ROOT / '.flake8'), *(str(REPO_ROOT / d) for d in CHECKED)])
    report = capsys.readouterr().out
    assert code == 0 and not errors, f'{len(errors)} ament_flake8 problems:\n{report[-6000:]}'


def test_the_lint_settings_are_ament_flake8s() -> None:
    """The project's file keeps every setting of ament_flake8.ini (it may only add to them)."""
    import configparser

    import ament_flake8

    theirs, ours = configparser.ConfigParser(), configparser.ConfigParser()
    theirs.read(Path(ament_flake8.__file__).parent / 'configuration' / 'ament_flake8.ini')
    ours.read(REPO_ROOT / '.flake8')
    for key, value in theirs['flake8'].items():
        assert ours['flake8'].get(key) == value, (
            f'.flake8 changes {key}: {ours["flake8"].get(key)}'
        )
