"""Hold a crashed node's DDS participant slot, so that the node started in its place gets another.

Fast DDS gives a new participant the lowest free participant ID, and with it that ID's ports. A
node killed without a clean exit frees its ID at once, but the surviving participants keep the
dead participant until its lease ends (20 s by default) and keep sending to its ports. The node
restarted in its place took the same ID, and the survivors delivered to it only about 3 s after
it started (2.7-3.2 s in 4 of 4 restarts of a bare std_msgs pair, UDP or shared memory, whatever
the lease or announcement period); given another ID it had data 0.4-0.8 s after it started.
So before a restart the runner starts this placeholder: a participant with no endpoints, hidden
from `ros2 node list`, which takes the freed ID and leaves cleanly once the dead participant's
lease is over.

    python -m rsdfm_bringup.participant_placeholder --hold 20 --ready-file /tmp/x.ready
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
import sys
import threading

DEAD_LEASE_S = 20.0          # Fast DDS's default participant lease; config/fastdds.xml keeps it
MODULE = 'rsdfm_bringup.participant_placeholder'


def placeholder_argv(ready_file: Path | None = None) -> list[str]:
    """Return the arguments after `python` that start a placeholder (runner and launch file)."""
    return ['-m', MODULE, '--hold', f'{DEAD_LEASE_S:g}',
            *(['--ready-file', str(ready_file)] if ready_file is not None else [])]


def main(argv: list[str] | None = None) -> int:
    """Create the participant, say so in the ready file, hold it for --hold seconds, leave."""
    parser = argparse.ArgumentParser(prog='rsdfm_bringup.participant_placeholder',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--hold', type=float, default=DEAD_LEASE_S,
                        help="seconds to hold the participant (the dead one's lease)")
    parser.add_argument('--ready-file', type=Path,
                        help='file written once the participant exists')
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.hold > 0:
        parser.error(f'--hold must be a positive number of seconds, got {args.hold}')
    import rclpy
    from rclpy.context import Context
    context = Context()
    rclpy.init(args=[], context=context)
    try:
        # a node makes sure the participant exists; '_' hides it from `ros2 node list`
        node = rclpy.create_node(f'_rsdfm_participant_placeholder_{os.getpid()}',
                                 context=context, enable_rosout=False,
                                 start_parameter_services=False)
        if args.ready_file is not None:
            args.ready_file.write_text(f'{os.getpid()}\n')
        try:
            threading.Event().wait(args.hold)
        except KeyboardInterrupt:
            pass
        node.destroy_node()
    finally:
        context.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
