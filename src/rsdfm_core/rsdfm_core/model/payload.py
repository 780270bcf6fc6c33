"""Byte layout of the payloads, validated on decode.

BevFeature payloads are 'hlf-v1' (compressed) or 'raw-f32' (uncompressed); FusedBev payloads
are float16 features.

hlf-v1, little endian:
    header  '<4sBBBBHHHHHI' = magic b'HLF1', version, bits, pool, index bytes, C, rows, cols,
            lf channels, hf channels, k                                         (22 bytes)
    valid   packed bits, one per cell                                       ceil(R*W / 8)
    lf      per-channel (lo, step) float32, then packed codes   8*Cl + ceil(Cl*Rp*Wp*bits / 8)
    hf      per-channel (lo, step) float32, cell indices, packed codes
                                                          8*Ch + k*ib + ceil(k*Ch*bits / 8)
    crc32   of everything before                                                   (4 bytes)
with Rp = ceil(R / pool), Wp = ceil(W / pool), ib = 2 if R*W <= 65536 else 4. `hlf_payload_size`
is this formula; tests check that it equals len(payload).

raw-f32, little endian:
    header  '<4sBBHHH' = magic b'RAW1', version, 0, C, rows, cols                   (12 bytes)
    valid   packed bits, one per cell                                       ceil(R*W / 8)
    map     float32 (C, R, W), row-major                                         4*C*R*W
    crc32   of everything before                                                   (4 bytes)

FusedBev payload, no header (channels, rows and cols are fields of the message):
    map     float16 (C, R, W) little endian, row-major                           2*C*R*W
`fused_payload_size` is this formula; a payload of any other length is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
import struct
import zlib

import numpy as np

CODECS = ('hlf-v1', 'raw-f32')   # BevFeature.codec values
HLF_MAGIC = b'HLF1'
RAW_MAGIC = b'RAW1'
VERSION = 1
# Largest |feature value| a payload may decode to. Real maps stay within a few units; a forged
# payload with huge (finite) scales would otherwise decode to inf/NaN and poison the fused map.
MAX_ABS_VALUE = 1e4
_HLF_HEADER = struct.Struct('<4sBBBBHHHHHI')
_RAW_HEADER = struct.Struct('<4sBBHHH')


class PayloadError(ValueError):
    """A feature payload that cannot be decoded (truncated, corrupt, wrong format or shape)."""


def pack_bits(codes: np.ndarray, bits: int) -> bytes:
    """Pack integer codes in [0, 2^bits) into a big-endian bit stream of ceil(n*bits/8) bytes."""
    codes = np.asarray(codes, dtype=np.uint8).reshape(-1)
    if bits == 8:
        return codes.tobytes()
    planes = (codes[:, None] >> np.arange(bits - 1, -1, -1, dtype=np.uint8)) & 1
    return np.packbits(planes.reshape(-1)).tobytes()


def unpack_bits(data: bytes, n: int, bits: int) -> np.ndarray:
    """Inverse of pack_bits: n codes as uint8."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if bits == 8:
        return buf[:n].copy()
    planes = np.unpackbits(buf)[:n * bits].reshape(n, bits)
    return (planes * (1 << np.arange(bits - 1, -1, -1))).sum(1).astype(np.uint8)


def index_bytes(rows: int, cols: int) -> int:
    return 2 if rows * cols <= 65536 else 4


def hlf_payload_size(
    channels: int,
    rows: int,
    cols: int,
    pool: int,
    lf_channels: int,
    hf_channels: int,
    topk: int,
    bits: int,
) -> int:
    """Exact payload bytes of an hlf-v1 map (the budget formula of the module docstring)."""
    k = min(int(topk), rows * cols)
    rp, wp = -(-rows // pool), -(-cols // pool)
    return (_HLF_HEADER.size + -(-rows * cols // 8)
            + 8 * lf_channels + -(-lf_channels * rp * wp * bits // 8)
            + 8 * hf_channels + k * index_bytes(rows, cols) + -(-k * hf_channels * bits // 8) + 4)


@dataclass
class HlfContent:
    """Everything an hlf-v1 payload carries, as numpy arrays."""

    channels: int
    rows: int
    cols: int
    pool: int
    bits: int
    valid: np.ndarray      # (R, W) bool
    lf_lo: np.ndarray      # (Cl,) float32
    lf_step: np.ndarray
    lf_codes: np.ndarray   # (Cl, Rp, Wp) uint8
    hf_lo: np.ndarray      # (Ch,) float32
    hf_step: np.ndarray
    hf_index: np.ndarray   # (k,) int64 flat cell indices
    hf_codes: np.ndarray   # (Ch, k) uint8


def pack_hlf(c: HlfContent) -> bytes:
    cl, ch, k = c.lf_codes.shape[0], c.hf_codes.shape[0], c.hf_index.shape[0]
    ib = index_bytes(c.rows, c.cols)
    parts = [
        _HLF_HEADER.pack(
            HLF_MAGIC, VERSION, c.bits, c.pool, ib, c.channels, c.rows, c.cols, cl, ch, k
        ),
        np.packbits(c.valid.reshape(-1).astype(np.uint8)).tobytes(),
        np.stack([c.lf_lo, c.lf_step], 1).astype('<f4').tobytes(),
        pack_bits(c.lf_codes, c.bits),
        np.stack([c.hf_lo, c.hf_step], 1).astype('<f4').tobytes(),
        c.hf_index.astype('<u2' if ib == 2 else '<u4').tobytes(),
        pack_bits(c.hf_codes, c.bits),
    ]
    body = b''.join(parts)
    return body + struct.pack('<I', zlib.crc32(body))


def _check_crc(payload: bytes, what: str) -> None:
    if len(payload) < 4 or struct.unpack('<I', payload[-4:])[0] != zlib.crc32(payload[:-4]):
        raise PayloadError(f'{what} payload is corrupt (checksum mismatch)')


def unpack_hlf(payload: bytes) -> HlfContent:
    """Parse and validate an hlf-v1 payload; raises PayloadError naming what is wrong."""
    payload = bytes(payload)
    if len(payload) < _HLF_HEADER.size + 4:
        raise PayloadError(
            f'hlf-v1 payload is truncated: {len(payload)} bytes, '
            f'header alone needs {_HLF_HEADER.size + 4}'
        )
    magic, ver, bits, pool, ib, C, R, W, cl, ch, k = _HLF_HEADER.unpack_from(payload)
    if magic != HLF_MAGIC:
        raise PayloadError(f'not an hlf-v1 payload: magic {magic!r}, expected {HLF_MAGIC!r}')
    if ver != VERSION:
        raise PayloadError(f'hlf payload version {ver} is not supported (expected {VERSION})')
    if not (1 <= bits <= 8) or pool < 1 or ib != index_bytes(R, W) or k > R * W:
        raise PayloadError(
            f'hlf-v1 header is inconsistent '
            f'(bits={bits}, pool={pool}, index bytes={ib}, k={k}, {R}x{W})'
        )
    expected = hlf_payload_size(C, R, W, pool, cl, ch, k, bits)
    if len(payload) != expected:
        raise PayloadError(
            f'hlf-v1 payload is truncated or padded: {len(payload)} bytes, header says {expected}'
        )
    _check_crc(payload, 'hlf-v1')
    off = _HLF_HEADER.size

    def take(n: int) -> bytes:
        nonlocal off
        off += n
        return payload[off - n:off]

    valid = (
        np.unpackbits(np.frombuffer(take(-(-R * W // 8)), np.uint8))[: R * W]
        .reshape(R, W)
        .astype(bool)
    )
    rp, wp = -(-R // pool), -(-W // pool)
    lf_s = np.frombuffer(take(8 * cl), '<f4').reshape(cl, 2)
    lf_codes = unpack_bits(take(-(-cl * rp * wp * bits // 8)), cl * rp * wp, bits).reshape(
        cl, rp, wp
    )
    hf_s = np.frombuffer(take(8 * ch), '<f4').reshape(ch, 2)
    hf_index = np.frombuffer(take(k * ib), '<u2' if ib == 2 else '<u4').astype(np.int64)
    hf_codes = unpack_bits(take(-(-k * ch * bits // 8)), k * ch, bits).reshape(ch, k)
    if k and hf_index.max() >= R * W:
        raise PayloadError('hlf-v1 payload has a cell index outside the grid')
    if k > 1 and (np.diff(hf_index) <= 0).any():        # the codec sends each cell once, sorted
        raise PayloadError('hlf-v1 payload has cell indices that repeat or are out of order')
    if not (np.isfinite(lf_s).all() and np.isfinite(hf_s).all()):
        raise PayloadError('hlf-v1 payload has non-finite quantization scales')
    top = float(2 ** bits - 1)
    for s in (lf_s, hf_s):
        if (
            s.size
            and float(
                (
                    np.abs(s[:, 0].astype(np.float64)) + top * np.abs(s[:, 1].astype(np.float64))
                ).max()
            )
            > MAX_ABS_VALUE
        ):
            raise PayloadError(
                f'hlf-v1 payload has quantization scales reaching beyond +-{MAX_ABS_VALUE:g}'
            )
    return HlfContent(C, R, W, pool, bits, valid, lf_s[:, 0].copy(), lf_s[:, 1].copy(), lf_codes,
                      hf_s[:, 0].copy(), hf_s[:, 1].copy(), hf_index, hf_codes)


@dataclass(frozen=True)
class PayloadHeader:
    """What a payload's fixed-size header claims, read without decoding or allocating anything."""

    channels: int
    rows: int
    cols: int
    size: int          # total payload bytes this header implies


def read_header(codec: str, payload: bytes | memoryview) -> PayloadHeader:
    """Return the header of an 'hlf-v1' or 'raw-f32' payload.

    Raises PayloadError if the payload is too short or not that format.

    Looks at the first bytes only, so a receiver can compare the claimed shape and size with the
    message fields before any decoding.
    """
    head = bytes(payload[:_HLF_HEADER.size])
    if codec == 'hlf-v1':
        if len(head) < _HLF_HEADER.size:
            raise PayloadError(
                f'hlf-v1 payload is truncated: {len(payload)} bytes, '
                f'header alone needs {_HLF_HEADER.size + 4}'
            )
        magic, ver, bits, pool, _, C, R, W, cl, ch, k = _HLF_HEADER.unpack_from(head)
        if magic != HLF_MAGIC or ver != VERSION:
            raise PayloadError(f'not an hlf-v1 payload: magic {magic!r} version {ver}')
        return PayloadHeader(
            C, R, W, hlf_payload_size(C, R, W, max(pool, 1), cl, ch, min(k, R * W), bits)
        )
    if codec == 'raw-f32':
        if len(head) < _RAW_HEADER.size:
            raise PayloadError(f'raw-f32 payload is truncated: {len(payload)} bytes')
        magic, ver, _, C, R, W = _RAW_HEADER.unpack_from(head)
        if magic != RAW_MAGIC or ver != VERSION:
            raise PayloadError(f'not a raw-f32 v{VERSION} payload: magic {magic!r} version {ver}')
        return PayloadHeader(C, R, W, raw_payload_size(C, R, W))
    raise PayloadError(f"unknown codec {codec!r} (expected 'hlf-v1' or 'raw-f32')")


def raw_payload_size(channels: int, rows: int, cols: int) -> int:
    return _RAW_HEADER.size + -(-rows * cols // 8) + 4 * channels * rows * cols + 4


def pack_raw(bev: np.ndarray, valid: np.ndarray) -> bytes:
    """'raw-f32' payload: header, validity bits, float32 (C, R, W) little endian, crc32."""
    C, R, W = bev.shape
    body = (
        _RAW_HEADER.pack(RAW_MAGIC, VERSION, 0, C, R, W)
        + np.packbits(valid.reshape(-1).astype(np.uint8)).tobytes()
        + np.ascontiguousarray(bev, dtype='<f4').tobytes()
    )
    return body + struct.pack('<I', zlib.crc32(body))


def unpack_raw(payload: bytes) -> tuple[np.ndarray, np.ndarray]:
    payload = bytes(payload)
    if len(payload) < _RAW_HEADER.size + 4:
        raise PayloadError(f'raw-f32 payload is truncated: {len(payload)} bytes')
    magic, ver, _, C, R, W = _RAW_HEADER.unpack_from(payload)
    if magic != RAW_MAGIC or ver != VERSION:
        raise PayloadError(f'not a raw-f32 v{VERSION} payload: magic {magic!r} version {ver}')
    if len(payload) != raw_payload_size(C, R, W):
        raise PayloadError(
            f'raw-f32 payload is truncated or padded: {len(payload)} bytes, '
            f'header says {raw_payload_size(C, R, W)}'
        )
    _check_crc(payload, 'raw-f32')
    off = _RAW_HEADER.size
    nb = -(-R * W // 8)
    valid = (
        np.unpackbits(np.frombuffer(payload[off:off + nb], np.uint8))[:R * W]
        .reshape(R, W)
        .astype(bool)
    )
    bev = np.frombuffer(payload[off + nb:-4], '<f4').reshape(C, R, W).copy()
    if bev.size and not (np.isfinite(bev).all() and float(np.abs(bev).max()) <= MAX_ABS_VALUE):
        raise PayloadError(
            f'raw-f32 payload has values that are not finite or beyond +-{MAX_ABS_VALUE:g}'
        )
    return bev, valid


def fused_payload_size(channels: int, rows: int, cols: int) -> int:
    return 2 * channels * rows * cols


def pack_fused(features: np.ndarray) -> bytes:
    """Return the FusedBev payload of a fused map (C, R, W): float16 little endian."""
    return np.ascontiguousarray(features, dtype='<f2').tobytes()


def unpack_fused(payload: bytes, channels: int, rows: int, cols: int) -> np.ndarray:
    """Return the (C, R, W) float16 map of a FusedBev payload.

    Raises PayloadError if its size does not match.
    """
    n = fused_payload_size(channels, rows, cols)
    if len(payload) != n:
        raise PayloadError(f'fused map payload has {len(payload)} bytes, expected {n} '
                           f'(float16 x {channels} channels x {rows} x {cols})')
    flat = np.frombuffer(bytes(payload), dtype='<f2')
    return flat.reshape(channels, rows, cols).astype(np.float16)
