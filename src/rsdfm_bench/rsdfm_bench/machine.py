"""What the numbers were measured on: machine, versions, date, commit, who else used the CPU."""
from __future__ import annotations

import datetime
from importlib import metadata
import os
from pathlib import Path
import platform
import re
import subprocess
import time

from rsdfm_bench.timing import all_threads

PACKAGES = (
    'torch',
    'numpy',
    'onnx',
    'onnxruntime',
    'onnxscript',
    'rclpy',
    'rosbags',
    'opencv-python-headless',
)


def cpu_model() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def versions() -> dict[str, str]:
    out = {'python': platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = 'not installed'
    out['rmw'] = os.environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    out['ros_distro'] = os.environ.get('ROS_DISTRO', 'kilted')
    return out


def git_commit() -> str:
    try:
        r = subprocess.run(
            ['git', 'rev-parse', '--short', 'HEAD'],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
        return r.stdout.strip() or 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def competing_processes(sample_s: float = 1.0, busy_percent: float = 30.0) -> list[str]:
    """Return the other processes sharing the cores with the bench.

    That is model training, or anything busier than busy_percent of a core over a short sample
    (the bench's own children excluded).
    """
    import psutil

    me = psutil.Process()
    mine = {me.pid} | {c.pid for c in me.children(recursive=True)}
    procs = [p for p in psutil.process_iter(['pid', 'cmdline']) if p.info['pid'] not in mine]
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(sample_s)
    out = []
    for p in procs:
        cmd = ' '.join(p.info.get('cmdline') or [])
        try:
            busy = p.cpu_percent(None)
        except psutil.Error:
            continue
        if (
            'rsdfm train' in cmd
            or re.search(r'\btrain\w*\.py\b', cmd)
            or (busy >= busy_percent and cmd)
        ):
            out.append(f"{p.info['pid']}: {cmd[:120]}")
    return out


def machine_facts() -> dict:
    import psutil

    return {
        'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        'cpu': cpu_model(),
        'cores': all_threads(),
        'ram_gib': round(psutil.virtual_memory().total / 2**30, 1),
        'os': platform.platform(),
        'versions': versions(),
        'commit': git_commit(),
        'load_average': [round(x, 2) for x in os.getloadavg()],
    }
