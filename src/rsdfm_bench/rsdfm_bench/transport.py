r"""BevFeature messages over real DDS between two processes: latency and bytes against the raw map.

The parent (the bench) encodes one drone image at the default budget (and as a raw float32 map for
comparison), starts this module as a publisher process, and subscribes with the features' QoS.
The publisher stamps each message with the wall clock right before publish(); on the same machine
receive time minus stamp is the transport latency (publish, DDS, deserialise, callback).

    python -m rsdfm_bench.transport --payload FILE --codec hlf-v1 --raw-bytes N \
        --count 100 --rate 10
"""
from __future__ import annotations

import argparse
from pathlib import Path
import subprocess
import sys
import time

from rsdfm_bench.timing import progress, summary

TOPIC = '/rsdfm_bench/bev_feature'


def publish_main(argv: list[str] | None = None) -> int:
    """Run the publisher process: wait for the subscriber, send `count` messages, wait for acks.

    The messages go out at `rate`.
    """
    ap = argparse.ArgumentParser(description='bench publisher of BevFeature messages')
    ap.add_argument('--payload', required=True)
    ap.add_argument('--codec', required=True)
    ap.add_argument('--raw-bytes', type=int, required=True)
    ap.add_argument('--count', type=int, required=True)
    ap.add_argument('--rate', type=float, required=True)
    ap.add_argument('--timeout', type=float, default=60.0)
    args = ap.parse_args(argv)
    import rclpy

    from rsdfm_msgs.msg import BevFeature
    from rsdfm_ros.conversions import bytes_to_uint8_array
    from rsdfm_ros.qos import result_qos

    payload = Path(args.payload).read_bytes()
    rclpy.init()
    node = rclpy.create_node('rsdfm_bench_publisher')
    pub = node.create_publisher(BevFeature, TOPIC, result_qos())
    deadline = time.monotonic() + args.timeout
    while pub.get_subscription_count() < 1:
        if time.monotonic() > deadline:
            print('no subscriber matched', file=sys.stderr)
            return 1
        time.sleep(0.02)
    period = 1.0 / args.rate
    next_t = time.monotonic()
    for i in range(args.count):
        msg = BevFeature()
        msg.header.frame_id, msg.agent_id, msg.codec = 'map', 'bench', args.codec
        msg.rows = msg.cols = 128
        msg.channels, msg.raw_bytes = 32, args.raw_bytes
        msg.payload = bytes_to_uint8_array(payload)
        now = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 1_000_000_000)
        pub.publish(msg)
        next_t += period
        time.sleep(max(0.0, next_t - time.monotonic()))
    pub.wait_for_all_acked(rclpy.duration.Duration(seconds=10))
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def send_and_receive(
    payload: bytes,
    codec: str,
    raw_bytes: int,
    count: int,
    rate: float,
    work: Path,
    timeout: float = 90.0,
) -> dict:
    """Run one publisher process and receive its messages here; latency summary and sizes."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    from rsdfm_bringup.runner import node_environment
    from rsdfm_msgs.msg import BevFeature
    from rsdfm_ros.qos import result_qos

    path = work / f'transport_{codec}.bin'
    path.write_bytes(payload)
    latencies, sizes = [], []
    ctx = Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node('rsdfm_bench_subscriber', context=ctx)

    def on_msg(msg) -> None:
        latencies.append(
            (time.time_ns() - (msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec))
            / 1e6
        )
        sizes.append(len(msg.payload))
    node.create_subscription(BevFeature, TOPIC, on_msg, result_qos(depth=50))
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    cmd = [sys.executable, '-m', 'rsdfm_bench.transport', '--payload', str(path), '--codec', codec,
           '--raw-bytes', str(raw_bytes), '--count', str(count), '--rate', str(rate)]
    proc = subprocess.Popen(
        cmd, env=node_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + timeout
        while len(latencies) < count and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
            if proc.poll() is not None and len(latencies) < count:
                executor.spin_once(timeout_sec=0.5)     # last messages in flight
                break
        proc.wait(timeout=20)
        err = proc.stderr.read().decode(errors='replace').strip() if proc.stderr else ''
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        executor.shutdown()
        node.destroy_node()
        ctx.try_shutdown()
    res = summary(latencies)
    res.update(
        {
            'codec': codec,
            'sent': count,
            'received': len(latencies),
            'payload_bytes': len(payload),
            'raw_bytes': raw_bytes,
            'ratio_to_raw': len(payload) / raw_bytes,
            'rate_hz': rate,
            'publisher_exit': proc.returncode,
        }
    )
    if err and proc.returncode:
        res['publisher_error'] = err.splitlines()[-1][:300]
    return res


def measure_transport(rt, view, count: int, rate: float, work: Path) -> dict:
    """Send the default-budget HLF payload and the raw float32 map between two processes.

    Each is sent `count` times.
    """
    from rsdfm_core.model.runtime import DroneEncoder

    out = {'topic': TOPIC, 'qos': 'reliable, keep-last (result_qos)', 'processes': 2}
    for codec in ('hlf-v1', 'raw-f32'):
        enc = DroneEncoder(rt, codec=codec)
        m = enc.encode(view.image, view.K, view.cam_to_map)
        progress(
            f'transport: {count} {codec} messages of {len(m.payload)} bytes '
            f'at {rate:g} Hz over DDS'
        )
        r = send_and_receive(m.payload, codec, m.raw_bytes, count, rate, work)
        if codec == 'hlf-v1':
            r['budget'] = enc.budget
        out[codec] = r
        progress(f'transport {codec}: median {r["median_ms"]:.2f} ms, p90 {r["p90_ms"]:.2f} ms, '
                 f'{r["received"]}/{count} received')
    return out


if __name__ == '__main__':
    sys.exit(publish_main())
