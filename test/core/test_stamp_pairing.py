"""Pairing two streams by stamp: in order, out of order, unpaired messages evicted and counted."""
import pytest

from rsdfm_core.stamp_pairing import Eviction, StampPairing

S = 1_000_000_000
SIDES = ('detections', 'fused_map')


def test_in_order_pairs_each_stamp_and_keeps_nothing():
    p = StampPairing(SIDES)
    for k in range(5):
        assert p.add('detections', k * S, f'dets{k}').pair is None
        added = p.add('fused_map', k * S, f'map{k}')
        assert added.pair == (f'dets{k}', f'map{k}') and added.evicted == []
    assert len(p) == 0 and p.paired == 5 and sum(p.evicted.values()) == 0


def test_out_of_order_pairs_by_stamp_in_side_order_whichever_comes_first():
    p = StampPairing(SIDES)
    for k in (1, 2, 3):
        assert p.add('fused_map', k * S, f'map{k}').pair is None
    assert p.add('detections', 3 * S, 'dets3').pair == ('dets3', 'map3')
    assert p.add('detections', 1 * S, 'dets1').pair == ('dets1', 'map1')
    assert p.add('detections', 4 * S, 'dets4').pair is None
    assert p.add('detections', 2 * S, 'dets2').pair == ('dets2', 'map2')
    assert p.add('fused_map', 4 * S, 'map4').pair == ('dets4', 'map4')
    assert len(p) == 0 and p.paired == 4 and sum(p.evicted.values()) == 0


def test_beyond_capacity_the_oldest_unpaired_message_is_evicted_and_counted():
    p = StampPairing(SIDES, capacity=2, max_age_ns=100 * S)
    assert p.add('fused_map', 1 * S, 'map1').evicted == []
    assert p.add('fused_map', 2 * S, 'map2').evicted == []
    added = p.add('fused_map', 3 * S, 'map3')
    assert added.evicted == [Eviction('fused_map', 1 * S, 'unpaired')]
    assert added.evicted[0].code == 'unpaired_fused_map'
    assert p.evicted == {'unpaired_fused_map': 1} and len(p) == 2
    assert p.add('detections', 1 * S, 'dets1').pair is None        # its map is gone
    assert p.add('detections', 3 * S, 'dets3').pair == ('dets3', 'map3')


def test_messages_older_than_max_age_behind_the_newest_stamp_are_evicted():
    p = StampPairing(SIDES, capacity=10, max_age_ns=1 * S)
    p.add('fused_map', 0, 'map0')
    p.add('detections', S // 2, 'dets_half')
    added = p.add('fused_map', 3 * S // 2, 'map1.5')
    assert added.evicted == [Eviction('fused_map', 0, 'unpaired')]
    added = p.add('detections', 3 * S, 'dets3')
    assert added.evicted == [Eviction('detections', S // 2, 'unpaired'),
                             Eviction('fused_map', 3 * S // 2, 'unpaired')]
    assert p.evicted == {'unpaired_fused_map': 2, 'unpaired_detections': 1}
    assert len(p) == 1


def test_a_message_arriving_after_its_partner_was_evicted_waits_then_is_evicted_too():
    p = StampPairing(SIDES, capacity=10, max_age_ns=1 * S)
    p.add('fused_map', 0, 'map0')
    p.add('fused_map', 2 * S, 'map2')                                 # evicts map0
    added = p.add('detections', 0, 'dets0')                            # too old to ever pair
    assert added.pair is None and added.evicted == [Eviction('detections', 0, 'unpaired')]
    assert len(p) == 1


def test_a_second_message_with_the_same_stamp_replaces_the_first_and_is_counted():
    p = StampPairing(SIDES)
    p.add('detections', S, 'first')
    added = p.add('detections', S, 'second')
    assert added.evicted == [Eviction('detections', S, 'duplicate')]
    assert p.evicted == {'duplicate_detections': 1}
    assert p.add('fused_map', S, 'map').pair == ('second', 'map')


def test_bad_settings_and_unknown_sides_are_refused():
    with pytest.raises(ValueError, match='two different'):
        StampPairing(('a', 'a'))
    with pytest.raises(ValueError, match='capacity'):
        StampPairing(SIDES, capacity=0)
    with pytest.raises(ValueError, match='max_age_ns'):
        StampPairing(SIDES, max_age_ns=0)
    with pytest.raises(ValueError, match='unknown side'):
        StampPairing(SIDES).add('segmentation', 0, None)
