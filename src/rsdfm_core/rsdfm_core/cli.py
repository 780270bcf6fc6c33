"""The `rsdfm` command: one entry point, one module per subcommand.

ROS-free subcommands live in rsdfm_core.commands; those that need rclpy (replay, record, run,
demo, bench) live in the rsdfm_bringup package, imported only when used, so the core never
depends on ROS. Each subcommand module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`.
Modules are imported only when their subcommand runs, so `rsdfm simulate` does not pay for torch.
"""
from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    'simulate': 'rsdfm_core.commands.simulate',
    'train': 'rsdfm_core.commands.train',
    'evaluate': 'rsdfm_core.commands.evaluate',
    'replay': 'rsdfm_bringup.commands.replay',
    'record': 'rsdfm_bringup.commands.record',
    'run': 'rsdfm_bringup.commands.run',
    'demo': 'rsdfm_bringup.commands.demo',
    'bench': 'rsdfm_bringup.commands.bench',
}


class UserError(Exception):
    """A problem with the user's input: printed as one clear line, never as a traceback."""


def _load(name: str):
    return importlib.import_module(SUBCOMMANDS[name])


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='rsdfm', description='rsdfm: collaborative BEV perception for drone fleets')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    wanted = argv[0] if argv and not argv[0].startswith('-') else None
    for name in SUBCOMMANDS:
        if wanted is not None and name != wanted:
            sub.add_parser(name)
            continue
        try:
            module = _load(name)
        except ModuleNotFoundError as exc:
            if not SUBCOMMANDS[name].startswith(str(exc.name)):
                raise
            continue
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
