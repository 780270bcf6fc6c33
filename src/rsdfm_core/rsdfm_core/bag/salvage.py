"""Read what is readable from an MCAP file that was cut short (a recorder killed, a disk full).

A cut MCAP has no summary and no footer, so indexed readers (rosbags) refuse it. Its records
are still there in order: schemas and channels, then chunks of messages. This walks the
records from the start, decompresses even the last, partial chunk as far as its bytes go
(zstd and lz4 streams decode incrementally), and yields every complete message before the cut.
Record parsing is the `mcap` library's; only the walk over a partial file is done here.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
import io
from pathlib import Path
import struct

from mcap.exceptions import McapError
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader

MAGIC = b'\x89MCAP0\r\n'
OP_CHUNK = 0x06
_U64 = struct.Struct('<Q')


@dataclass
class Salvaged:
    """One message read from a cut MCAP."""

    topic: str
    msgtype: str
    log_time: int
    data: bytes


@dataclass
class SalvageReport:
    """How far the walk got: messages read, byte offset where the file stops making sense."""

    messages: int = 0
    stopped_at: int = 0
    file_size: int = 0


def _decompress_partial(compression: str, data: bytes) -> bytes:
    """As much of a compressed chunk as decodes (all of it when the chunk is complete)."""
    if compression == '':
        return data
    if compression == 'zstd':
        import zstandard
        try:
            return zstandard.ZstdDecompressor().decompressobj().decompress(data)
        except zstandard.ZstdError:
            return b''
    if compression == 'lz4':
        import lz4.frame
        try:
            return lz4.frame.LZ4FrameDecompressor().decompress(data)
        except RuntimeError:
            return b''
    return b''


def _records(buf: bytes) -> Iterator[object]:
    """Complete records of an MCAP record stream (no magic), stopping quietly at a cut."""
    reader = StreamReader(io.BytesIO(buf), skip_magic=True)
    it = iter(reader.records)
    while True:
        try:
            yield next(it)
        except StopIteration:
            return
        except (McapError, EOFError, struct.error, ValueError):
            return


def _chunk_records(body: bytes) -> bytes:
    """Return the (possibly partial) decompressed records of a chunk record body."""
    # message_start_time, message_end_time, uncompressed_size (u64 each), uncompressed_crc (u32),
    # compression (u32 length + utf-8), records (u64 length + bytes)
    off = 28
    if len(body) < off + 4:
        return b''
    (n,) = struct.unpack_from('<I', body, off)
    compression = body[off + 4:off + 4 + n].decode('utf-8', 'replace')
    off += 4 + n + 8
    return _decompress_partial(compression, body[off:])


def salvage_mcap(path: str | Path, report: SalvageReport | None = None) -> Iterator[Salvaged]:
    """Every complete message of an MCAP file in file order, however the file ends."""
    data = Path(path).read_bytes()
    report = report if report is not None else SalvageReport()
    report.file_size = len(data)
    schemas: dict[int, str] = {}
    channels: dict[int, tuple[str, str]] = {}
    pos = len(MAGIC) if data.startswith(MAGIC) else 0

    def handle(record) -> Salvaged | None:
        if isinstance(record, Schema):
            schemas[record.id] = record.name
        elif isinstance(record, Channel):
            channels[record.id] = (record.topic, schemas.get(record.schema_id, ''))
        elif isinstance(record, Message) and record.channel_id in channels:
            topic, msgtype = channels[record.channel_id]
            return Salvaged(topic, msgtype, int(record.log_time), bytes(record.data))
        return None

    while pos + 9 <= len(data):
        op = data[pos]
        (length,) = _U64.unpack_from(data, pos + 1)
        end = pos + 9 + length
        complete = end <= len(data)
        if op == OP_CHUNK:
            for record in _records(_chunk_records(data[pos + 9:min(end, len(data))])):
                msg = handle(record)
                if msg is not None:
                    report.messages += 1
                    yield msg
        elif complete:
            for record in _records(data[pos:end]):
                msg = handle(record)
                if msg is not None:
                    report.messages += 1
                    yield msg
        if not complete:
            break
        pos = end
    report.stopped_at = min(pos, len(data))
