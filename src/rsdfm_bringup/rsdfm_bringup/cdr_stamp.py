"""Shift the header stamp of a serialized (CDR) message in place, without deserializing it.

Replay moves bag stamps to the present (or skews one drone's clock) for every message that
starts with a std_msgs/Header; in CDR that header's stamp is the first 8 bytes after the
4-byte encapsulation header, so shifting it is a struct patch, not a decode of a 1 MB image.
"""
from __future__ import annotations

import struct

_CDR_LE, _CDR_BE = 0x01, 0x00


def read_stamp_ns(raw: bytes | bytearray | memoryview) -> int:
    """Return the header stamp (ns) of a CDR message whose first field is a std_msgs/Header."""
    order = _byte_order(raw)
    sec, nsec = struct.unpack_from(order + 'iI', raw, 4)
    return sec * 1_000_000_000 + nsec


def shift_stamp(raw: bytes | bytearray, offset_ns: int) -> bytearray:
    """Return a copy of the message with its header stamp moved by offset_ns (may be negative)."""
    out = bytearray(raw)
    order = _byte_order(out)
    stamp = read_stamp_ns(out) + int(offset_ns)
    if stamp < 0:
        raise ValueError(f'shifted stamp would be negative ({stamp} ns)')
    struct.pack_into(order + 'iI', out, 4, stamp // 1_000_000_000, stamp % 1_000_000_000)
    return out


def _byte_order(raw) -> str:
    if len(raw) < 12:
        raise ValueError(f'CDR message of {len(raw)} bytes is too short to hold a header stamp')
    kind = raw[1]
    if kind not in (_CDR_LE, _CDR_BE) or raw[0] != 0:
        raise ValueError(f'not a plain CDR message (encapsulation {bytes(raw[:2]).hex()})')
    return '<' if kind == _CDR_LE else '>'


def shift_tf_stamps(raw: bytes | bytearray, offset_ns: int) -> bytes:
    """Return a tf2_msgs/TFMessage with every transform's stamp moved by offset_ns.

    TF has no top-level header, so the message is decoded; /tf messages are small.
    """
    from rclpy.serialization import deserialize_message, serialize_message
    from tf2_msgs.msg import TFMessage

    msg = deserialize_message(bytes(raw), TFMessage)
    for t in msg.transforms:
        stamp = t.header.stamp.sec * 1_000_000_000 + t.header.stamp.nanosec + int(offset_ns)
        if stamp < 0:
            raise ValueError(f'shifted stamp would be negative ({stamp} ns)')
        t.header.stamp.sec, t.header.stamp.nanosec = stamp // 1_000_000_000, stamp % 1_000_000_000
    return serialize_message(msg)
