"""Fuzzing (hypothesis) of what a rogue participant controls: payload decoder, BevFeature checks.

Whatever the bytes and fields, they either pass or are refused with PayloadError / a Refusal:
never another exception, never a huge allocation (the claimed size is checked first).

Bounded for make test (max_examples, no deadline: the machine is shared). A longer run:
    RSDFM_FUZZ_EXAMPLES=20000 .venv/bin/pytest -p no:cacheprovider test/core/test_fuzz_payload.py
(see README.md, Security, for what such runs found).
"""
from __future__ import annotations

import os
import struct
import warnings
import zlib

from hypothesis import example, given, HealthCheck, settings
from hypothesis import strategies as st
import numpy as np

from rsdfm_core.geometry import BevGrid
from rsdfm_core.model.payload import (
    HlfContent,
    pack_hlf,
    pack_raw,
    PayloadError,
    read_header,
    unpack_hlf,
    unpack_raw,
)
from rsdfm_core.validation import check_feature, FeatureFields, FeatureLimits, Refusal

EXAMPLES = int(os.environ.get('RSDFM_FUZZ_EXAMPLES', '300'))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=EXAMPLES <= 300)


def _valid_hlf() -> bytes:
    rng = np.random.default_rng(1)
    R = W = 8
    c = HlfContent(
        4,
        R,
        W,
        4,
        5,
        rng.random((R, W)) > 0.5,
        np.zeros(2, np.float32),
        np.ones(2, np.float32),
        rng.integers(0, 31, (2, 2, 2)).astype(np.uint8),
        np.zeros(3, np.float32),
        np.ones(3, np.float32),
        np.arange(6),
        rng.integers(0, 31, (3, 6)).astype(np.uint8),
    )
    return pack_hlf(c)


HLF = _valid_hlf()
RAW = pack_raw(np.zeros((4, 8, 8), np.float32), np.ones((8, 8), bool))


def _mutations(seed: bytes):
    """Return byte strings near a valid payload: flips, cuts, inserts, rewritten header fields.

    Rewritten header fields come with a fixed CRC.
    """
    flip = st.tuples(st.integers(0, len(seed) - 1), st.integers(1, 255)).map(
        lambda p: seed[:p[0]] + bytes([seed[p[0]] ^ p[1]]) + seed[p[0] + 1:])
    cut = st.integers(0, len(seed)).map(lambda n: seed[:n])
    grow = st.binary(min_size=1, max_size=64).map(lambda extra: seed + extra)
    header = st.tuples(st.integers(4, 21), st.integers(0, 255)).map(
        lambda p: _with_crc(seed[:p[0]] + bytes([p[1]]) + seed[p[0] + 1:]))
    forged = st.tuples(st.integers(0, len(seed) - 5), st.binary(min_size=1, max_size=8)).map(
        lambda p: _with_crc(seed[:p[0]] + p[1] + seed[p[0] + len(p[1]):])
    )  # what a sender that fixes the CRC can do
    return st.one_of(flip, cut, grow, header, forged, st.binary(max_size=256))


def _with_crc(payload: bytes) -> bytes:
    body = payload[:-4]
    return body + struct.pack('<I', zlib.crc32(body))


@FUZZ
@given(_mutations(HLF))
def test_hlf_decoder_refuses_or_decodes(payload):
    try:
        c = unpack_hlf(payload)
    except PayloadError:
        return
    assert c.valid.shape == (c.rows, c.cols) and c.hf_codes.shape[1] == c.hf_index.shape[0]
    assert len(payload) == read_header('hlf-v1', payload).size


@FUZZ
@given(_mutations(RAW))
def test_raw_decoder_refuses_or_decodes(payload):
    try:
        bev, valid = unpack_raw(payload)
    except PayloadError:
        return
    assert bev.shape[1:] == valid.shape


LIMITS = FeatureLimits(region=BevGrid.centred(0, 0, 128, 128, 1.0), channels=4)
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
u16 = st.integers(0, 65535)


@FUZZ
@given(
    agent=st.text(max_size=80),
    stamp=st.integers(-(2**63), 2**63 - 1),
    cam_p=st.tuples(floats, floats, floats),
    cam_q=st.tuples(floats, floats, floats, floats),
    grid_p=st.tuples(floats, floats, floats),
    grid_q=st.tuples(floats, floats, floats, floats),
    res=floats,
    rows=u16,
    cols=u16,
    channels=u16,
    codec=st.sampled_from(['hlf-v1', 'raw-f32', '', 'jpeg']),
    payload=st.one_of(_mutations(HLF), _mutations(RAW)),
)
def test_feature_checks_refuse_or_pass_and_never_raise(
    agent, stamp, cam_p, cam_q, grid_p, grid_q, res, rows, cols, channels, codec, payload
):
    f = FeatureFields(
        agent, stamp, cam_p, cam_q, grid_p, grid_q, res, rows, cols, channels, codec, payload
    )
    out = check_feature(f, LIMITS, now_ns=1_700_000_000 * 10**9)
    assert out is None or (isinstance(out, Refusal) and out.reason and out.detail)
    if out is None:
        # a map that passes is one the decoder can take: header matches the fields, sizes within
        # limits
        head = read_header(codec, payload)
        assert (head.channels, head.rows, head.cols) == (
            channels,
            rows,
            cols,
        ) and rows * cols <= LIMITS.max_cells


def _real_map():
    import torch

    from rsdfm_core.model.runtime import DroneEncoder, Runtime

    torch.set_num_threads(1)
    rt = Runtime.load(None, threads=1)
    enc = DroneEncoder(rt, budget={'topk': 64, 'bits': 4})
    C, g = rt.config['model']['img_channels'], rt.region
    x = torch.randn(1, C, g.rows, g.cols)
    valid = torch.ones(1, g.rows, g.cols, dtype=torch.bool)
    return rt, g, C, enc.compress(x, valid)


RT, GRID, CHANNELS, REAL = _real_map()


@settings(
    max_examples=max(20, EXAMPLES // 5),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=EXAMPLES <= 300,
)
@given(_mutations(REAL))
def test_model_decoder_refuses_or_decodes_a_mutated_real_map(payload):
    from rsdfm_core.model.runtime import decode_payload, EncodedMap

    try:
        bev, valid = decode_payload(RT, EncodedMap(GRID, CHANNELS, 'hlf-v1', payload, 0))
    except PayloadError:
        return
    assert tuple(bev.shape) == (CHANNELS, GRID.rows, GRID.cols) and bool(
        np.isfinite(bev.numpy()).all()
    )


floats32 = st.floats(width=32)


@FUZZ
@given(lf_lo=floats32, lf_step=floats32, hf_lo=floats32, hf_step=floats32)
@example(
    lf_lo=0.0, lf_step=0.0, hf_lo=0.0, hf_step=2.2685492311203124e37
)  # the long run's finding
def test_forged_quantization_scales_never_decode_to_inf_or_nan(lf_lo, lf_step, hf_lo, hf_step):
    # Found by this fuzzing: finite but huge scales (e.g. step 3e38, CRC recomputed by the sender)
    # decoded to inf/NaN, which fusion would have spread over the fused map. Now refused.
    from rsdfm_core.model.payload import unpack_hlf as unpack
    from rsdfm_core.model.runtime import decode_payload, EncodedMap

    c = unpack(REAL)
    c.lf_lo[0], c.lf_step[0], c.hf_lo[0], c.hf_step[0] = lf_lo, lf_step, hf_lo, hf_step
    with warnings.catch_warnings():
        warnings.simplefilter(
            'ignore', RuntimeWarning
        )  # overflow while decoding the forged values
        try:
            bev, _ = decode_payload(RT, EncodedMap(GRID, CHANNELS, 'hlf-v1', pack_hlf(c), 0))
        except PayloadError:
            return
    assert bool(np.isfinite(bev.numpy()).all())
