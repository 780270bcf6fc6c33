"""The raw messages of one rosbag2 bag, with errors that name the file and the problem.

Strict by default: a cut or damaged file, an unreadable message, raises BagError. With
skip_bad=True it goes on with what is readable (a cut MCAP is walked record by record,
see salvage.py) and says on stderr what it left out. Both `rsdfm evaluate` (through
read_frames) and `rsdfm replay` read bags through this.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
import sys

from rosbags.rosbag2 import Reader
import yaml

from .salvage import MAGIC, salvage_mcap, SalvageReport

SKIP_HINT = 'use --skip-bad to go on with what is readable'


class BagError(ValueError):
    """A bag that cannot be read as asked; the message names the file and what is wrong with it."""


@dataclass
class RawMessage:
    topic: str
    msgtype: str
    log_time: int
    data: bytes


def warn_stderr(text: str) -> None:
    print(f'rsdfm: warning: {text}', file=sys.stderr, flush=True)


def _bag_information(path: Path) -> dict:
    """Return rosbag2_bagfile_information of the bag's metadata.yaml ({} if unreadable)."""
    try:
        info = yaml.safe_load((Path(path) / 'metadata.yaml').read_text())
        info = info['rosbag2_bagfile_information']
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return {}
    return info if isinstance(info, dict) else {}


def bag_files(path: Path) -> list[Path]:
    """Return the storage files of a bag directory: from metadata.yaml, else every *.mcap."""
    rel = _bag_information(path).get('relative_file_paths')
    if isinstance(rel, list):
        return [path / r for r in rel]
    return sorted(path.glob('*.mcap'))


def custom_data(path: Path) -> dict[str, str]:
    """Return the custom_data of the bag's metadata.yaml ({} if none or unreadable)."""
    data = _bag_information(path).get('custom_data')
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def cut_files(path: Path) -> list[Path]:
    """MCAP files of the bag that are missing or do not end with the MCAP magic (cut short)."""
    bad = []
    for f in bag_files(path):
        if f.suffix != '.mcap':
            continue
        try:
            with f.open('rb') as fh:
                size = fh.seek(0, 2)
                fh.seek(max(0, size - len(MAGIC)))
                if size < 2 * len(MAGIC) or fh.read() != MAGIC:
                    bad.append(f)
        except OSError:
            bad.append(f)
    return bad


class BagSource:
    """Topics, types, time span and raw messages of one bag; strict or skipping what is bad."""

    def __init__(
        self, path: str | Path, skip_bad: bool = False, warn: Callable[[str], None] = warn_stderr
    ) -> None:
        self.path, self.skip_bad, self.warn = Path(path), skip_bad, warn
        if not (self.path / 'metadata.yaml').is_file():
            raise FileNotFoundError(
                f'no rosbag2 bag at {self.path} (expected a directory with metadata.yaml)'
            )
        self.salvaged = False
        try:
            with Reader(self.path) as reader:
                self.topics = {c.topic: c.msgtype for c in reader.connections}
                self.start_ns, self.end_ns = reader.start_time, reader.end_time
        except Exception as exc:  # noqa: BLE001 - rosbags raises several kinds for damaged bags
            cut = cut_files(self.path)
            what = (f'{", ".join(map(str, cut))} is cut short or damaged (no MCAP footer)' if cut
                    else f'{self.path} cannot be read')
            if not skip_bad or not cut:
                raise BagError(
                    f'{what}: {str(exc).rstrip(".")}' + (f'; {SKIP_HINT}' if cut else '')
                ) from None
            self.warn(f'{what}; reading the messages before the cut (--skip-bad)')
            self._scan_salvaged()

    def _scan_salvaged(self) -> None:
        self.salvaged = True
        self.topics, times = {}, []
        report = SalvageReport()
        for m in self._salvaged_messages(report):
            self.topics.setdefault(m.topic, m.msgtype)
            times.append(m.log_time)
        if not times:
            raise BagError(f'{self.path}: no complete message before the cut')
        self.start_ns, self.end_ns = min(times), max(times)
        self.warn(f'{self.path}: {len(times)} messages readable before the cut')

    def _salvaged_messages(self, report: SalvageReport | None = None) -> Iterator[RawMessage]:
        for f in bag_files(self.path):
            if f.is_file():
                for m in salvage_mcap(f, report):
                    yield RawMessage(m.topic, m.msgtype, m.log_time, m.data)

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[RawMessage]:
        """Yield raw messages of the given topics (all when None) in log-time order.

        A salvaged file gives them in file order.
        """
        wanted = set(topics) if topics is not None else None
        if self.salvaged:
            for m in self._salvaged_messages():
                if wanted is None or m.topic in wanted:
                    yield m
            return
        t_ns = None
        try:
            with Reader(self.path) as reader:
                conns = [c for c in reader.connections if wanted is None or c.topic in wanted]
                for conn, t_ns, raw in reader.messages(connections=conns):
                    yield RawMessage(conn.topic, conn.msgtype, t_ns, raw)
        except BagError:
            raise
        except Exception as exc:  # noqa: BLE001 - damaged chunk or index in the middle of a bag
            where = (
                f'after the message at {t_ns} ns' if t_ns is not None else 'at its first message'
            )
            if not self.skip_bad:
                raise BagError(f'{self.path}: unreadable {where}: {exc}; {SKIP_HINT}') from None
            self.warn(f'{self.path}: unreadable {where}: {exc}; stopping there (--skip-bad)')
