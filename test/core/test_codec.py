"""HLF codec: round trip within the quantization bound, size == budget formula, clear errors."""
from dataclasses import fields, replace

import numpy as np
import pytest
import torch

from rsdfm_core.geometry import BevGrid
from rsdfm_core.model.codec import HlfCodec, quantize
from rsdfm_core.model.payload import (
    hlf_payload_size,
    pack_bits,
    pack_hlf,
    PayloadError,
    unpack_bits,
    unpack_hlf,
)
from rsdfm_core.model.runtime import (
    decode_payload,
    DroneEncoder,
    EncodedMap,
    FusionDecoder,
    Runtime,
)

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def rt():
    return Runtime.load(weights=None, threads=1)


def _map(rt, seed=0):
    g = torch.Generator().manual_seed(seed)
    C = rt.config['model']['img_channels']
    x = torch.randn(1, C, rt.region.rows, rt.region.cols, generator=g)
    valid = torch.zeros(1, rt.region.rows, rt.region.cols, dtype=torch.bool)
    valid[:, 10:100, 20:120] = True
    return x * valid[:, None], valid


@pytest.mark.parametrize('bits', range(1, 9))
def test_bit_packing_round_trip(bits):
    codes = np.random.default_rng(bits).integers(0, 2 ** bits, 1001).astype(np.uint8)
    data = pack_bits(codes, bits)
    assert len(data) == -(-1001 * bits // 8)
    np.testing.assert_array_equal(unpack_bits(data, 1001, bits), codes)


@pytest.mark.parametrize('bits', [2, 4, 8])
def test_quantization_error_within_half_step(bits):
    y = torch.randn(2, 5, 40) * 3
    q = quantize(y, bits)
    err = (q.dequantize() - y).abs()
    assert bool((err <= q.step[..., None] / 2 + 1e-5).all())


@pytest.mark.parametrize(
    'budget',
    [
        {'topk': 0, 'bits': 8},
        {'topk': 256, 'bits': 4},
        {'topk': 1024, 'bits': 8},
        {'topk': 4096, 'bits': 6},
        {'topk': 10**6, 'bits': 3},
    ],
)
def test_payload_size_matches_budget_formula(rt, budget):
    enc = DroneEncoder(rt, budget=budget)
    x, valid = _map(rt)
    payload = enc.compress(x, valid)
    cc = rt.config['model']['codec']
    g = rt.region
    assert len(payload) == hlf_payload_size(
        x.shape[1],
        g.rows,
        g.cols,
        cc['pool'],
        cc['lf_channels'],
        cc['hf_channels'],
        budget['topk'],
        budget['bits'],
    )
    assert len(payload) == enc.payload_size()


def test_default_budget_fits_64kb_and_one_32nd_of_raw(rt):
    enc = DroneEncoder(rt)
    raw = rt.config['model']['img_channels'] * rt.region.rows * rt.region.cols * 4
    assert enc.payload_size() <= 64 * 1024
    assert enc.payload_size() <= raw / 32


def test_decode_of_encode_matches_codec_within_quantization_bound(rt):
    """Bytes round trip == the codec's own quantized reconstruction.

    Both are within the bound of the float map.
    """
    x, valid = _map(rt, seed=3)
    codec = rt.net.codec
    for bits in (4, 8):
        enc = DroneEncoder(rt, budget={'topk': 512, 'bits': bits})
        m = EncodedMap(rt.region, x.shape[1], 'hlf-v1', enc.compress(x, valid), x.numel() * 4)
        dec, dvalid = decode_payload(rt, m)
        with torch.no_grad():
            ref, _ = codec(x, valid, 512, bits)
        assert torch.equal(dvalid, valid[0])
        np.testing.assert_allclose(dec.numpy(), ref[0].numpy(), atol=1e-4)
        # the latent codes carried in the payload are within half a step of the float latents
        c = unpack_hlf(m.payload)
        with torch.no_grad():
            lat = codec.low_latent(x)[0].numpy()
        deq = c.lf_lo[:, None, None] + c.lf_codes * c.lf_step[:, None, None]
        assert np.all(np.abs(deq - lat) <= c.lf_step[:, None, None] / 2 + 1e-5)
        # and the decoded map is within the propagated bound of the unquantized codec output
        with torch.no_grad():
            lf_float = codec.low_decode(codec.low_latent(x), x.shape[-2:])
        W = codec.lf_expand.weight[:, :, 0, 0].abs().detach().numpy()
        bound = W @ (c.lf_step / 2) + 1e-4
        lf_quant = codec.low_decode(torch.from_numpy(deq[None]).float(), x.shape[-2:])
        assert np.all(np.abs((lf_quant - lf_float)[0].detach().numpy()) <= bound[:, None, None])


def test_codec_content_survives_the_byte_layout_unchanged(rt):
    """Compress -> pack -> unpack gives back every field; decompress of both is the same map."""
    codec = rt.net.codec
    x, valid = _map(rt, seed=7)
    c = codec.compress(x, valid, 300, 5)
    back = unpack_hlf(pack_hlf(c))
    for f in fields(c):
        np.testing.assert_array_equal(getattr(back, f.name), getattr(c, f.name), err_msg=f.name)
    (a, va), (b, vb) = codec.decompress(c), codec.decompress(back)
    assert torch.equal(a, b) and torch.equal(va, vb) and torch.equal(va, valid[0])


def test_repeated_or_unsorted_cell_indices_are_refused(rt):
    """The codec sends each cell once, ascending: decoding adds each value once, where it says."""
    x, valid = _map(rt, seed=2)
    c = rt.net.codec.compress(x, valid, 64, 8)
    assert (np.diff(c.hf_index) > 0).all()
    repeated, swapped = c.hf_index.copy(), c.hf_index.copy()
    repeated[1] = repeated[0]
    swapped[[0, 1]] = swapped[[1, 0]]
    for index in (repeated, swapped):
        with pytest.raises(PayloadError, match='cell indices that repeat or are out of order'):
            unpack_hlf(pack_hlf(replace(c, hf_index=index)))


def test_decompress_refuses_content_of_another_codec_shape(rt):
    x, valid = _map(rt)
    codec = rt.net.codec
    other = HlfCodec(x.shape[1], codec.lf_channels + 1, codec.hf_channels, codec.pool)
    with pytest.raises(PayloadError, match='does not match this model'):
        codec.decompress(other.compress(x, valid, 64, 4))


def test_raw_codec_round_trip_is_exact(rt):
    x, valid = _map(rt, seed=5)
    enc = DroneEncoder(rt, codec='raw-f32')
    m = EncodedMap(rt.region, x.shape[1], 'raw-f32', enc.compress(x, valid), x.numel() * 4)
    dec, dvalid = decode_payload(rt, m)
    assert torch.equal(dec, x[0]) and torch.equal(dvalid, valid[0])


def test_corrupt_and_truncated_payloads_raise_clear_errors(rt):
    x, valid = _map(rt)
    payload = DroneEncoder(rt).compress(x, valid)
    ok = EncodedMap(rt.region, x.shape[1], 'hlf-v1', payload, x.numel() * 4)
    flipped = bytearray(payload)
    flipped[len(payload) // 2] ^= 0x40
    cases = {'corrupt': bytes(flipped), 'truncated or padded': payload[:-100],
             'truncated: 10 bytes, header alone': payload[:10],
             'not an hlf-v1': b'XXXX' + payload[4:]}
    for words, bad in cases.items():
        with pytest.raises(PayloadError, match=words):
            decode_payload(rt, EncodedMap(rt.region, x.shape[1], 'hlf-v1', bad, x.numel() * 4))
    with pytest.raises(PayloadError, match='uav7.*corrupt'):
        FusionDecoder(rt).fuse(
            [
                (ok, 'uav1'),
                (EncodedMap(rt.region, x.shape[1], 'hlf-v1', bytes(flipped), 0), 'uav7'),
            ]
        )
    with pytest.raises(PayloadError, match='unknown codec'):
        decode_payload(rt, EncodedMap(rt.region, x.shape[1], 'zip', payload, 0))
    small = BevGrid.centred(0, 0, 32, 32, 1.0)
    with pytest.raises(PayloadError, match='does not match the grid'):
        decode_payload(rt, EncodedMap(small, x.shape[1], 'hlf-v1', payload, 0))


def test_bad_budget_is_refused_with_a_clear_message(rt):
    with pytest.raises(ValueError, match='bits must be in 1..8'):
        DroneEncoder(rt, budget={'topk': 10, 'bits': 12})
    with pytest.raises(ValueError, match='topk must be >= 0'):
        DroneEncoder(rt, budget={'topk': -1})
    with pytest.raises(ValueError, match="unknown codec budget key 'k'"):
        DroneEncoder(rt, budget={'k': 1})


def test_budget_for_bytes_keeps_cells_before_bits():
    from rsdfm_core.model.codec import HlfCodec

    codec = HlfCodec(channels=32, lf_channels=16, hf_channels=16, pool=4)
    rows = cols = 128
    size = codec.payload_size
    # a wide link: the configured budget as it is
    wide = codec.budget_for_bytes(rows, cols, 10**7, bits=8, max_topk=1024)
    assert wide == {'topk': 1024, 'bits': 8}
    # all 1024 cells fit at 7 bits but not at 8: 7 bits
    at7 = size(rows, cols, 1024, 7)
    assert size(rows, cols, 1024, 8) > at7
    seven = codec.budget_for_bytes(rows, cols, at7, bits=8, max_topk=1024)
    assert seven == {'topk': 1024, 'bits': 7}
    # narrower: 6 bits (min_bits) with as many cells as fit, the next cell would not
    for max_bytes in (20000, 23750, 25000):            # above the dense part at 8 bits (18714)
        b = codec.budget_for_bytes(rows, cols, max_bytes, bits=8, max_topk=1024)
        assert b['bits'] == 6 and size(rows, cols, b['topk'], 6) <= max_bytes
        assert size(rows, cols, b['topk'] + 1, 6) > max_bytes
        eight = codec.budget_for_bytes(rows, cols, max_bytes, bits=8, max_topk=1024, min_bits=8)
        assert eight['bits'] == 8 and eight['topk'] < b['topk']          # more cells at 6 bits
    # below the dense part at 6 bits: fewer bits, no cells beyond what fits
    dense_at_6 = size(rows, cols, 0, 6)
    low = codec.budget_for_bytes(rows, cols, dense_at_6 - 1, bits=8, max_topk=1024)
    assert low['bits'] < 6 and size(rows, cols, low['topk'], low['bits']) < dense_at_6
    assert codec.budget_for_bytes(rows, cols, 100, bits=8, max_topk=4096) is None
