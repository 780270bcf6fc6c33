"""The `rsdfm` command: one entry point, one module per subcommand.

Subcommands are entry points of the group `rsdfm.commands`, declared in each package's setup.py:
rsdfm_core brings the ROS-free ones (simulate, import, train, train-head, evaluate),
rsdfm_bringup those that need rclpy (replay, record, run, demo), rsdfm_bench the measurements
(bench). A machine with only the core installed has only the core's subcommands, and the core
never imports ROS. Each subcommand module defines `HELP` (one line), `add_arguments(parser)` and
`run(args) -> int`; a module is imported only when its subcommand runs, so `rsdfm simulate`
does not pay for torch or rclpy.
"""
from __future__ import annotations

import argparse
from importlib.metadata import entry_points, EntryPoint
import sys

GROUP = 'rsdfm.commands'
ORDER = ('simulate', 'import', 'train', 'train-head', 'evaluate', 'replay', 'record', 'run',
         'demo', 'bench')


class UserError(Exception):
    """A problem with the user's input: printed as one clear line, never as a traceback."""


def subcommands() -> dict[str, EntryPoint]:
    """Installed subcommands by name, in the order of ORDER (others after, by name)."""
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    rank = {name: i for i, name in enumerate(ORDER)}
    return dict(sorted(found.items(), key=lambda kv: (rank.get(kv[0], len(ORDER)), kv[0])))


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """Return the parser; only the subcommand named in argv (or all, for --help) is imported."""
    parser = argparse.ArgumentParser(
        prog='rsdfm', description='rsdfm: collaborative BEV perception for drone fleets')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    wanted = argv[0] if argv and not argv[0].startswith('-') else None
    for name, ep in subcommands().items():
        if wanted is not None and name != wanted:
            sub.add_parser(name)
            continue
        module = ep.load()
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    module = getattr(args, '_module', None)
    if module is None:
        parser.print_help()
        return 2
    try:
        return int(module.run(args) or 0)
    except UserError as exc:
        print(f'rsdfm {args.command}: error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    # Run through the imported module, so UserError raised by subcommands (which import
    # rsdfm_core.cli) is the same class that main() catches.
    from rsdfm_core.cli import main as _main
    sys.exit(_main())
