"""The map rate gate: every drone maps the same instants, one per slot of capture time."""
import math

import pytest

from rsdfm_core.map_rate import map_period_ns, mapped_stamps, MapRateGate

MS = 1_000_000


def test_rate_zero_maps_every_image():
    gate = MapRateGate(0.0)
    assert all(gate.admit(s * 100 * MS) for s in range(20))
    assert gate.skipped == 0


def test_quarter_of_a_10hz_camera_maps_every_fourth_image():
    stamps = [1_700_000_000_000 * MS + k * 100 * MS for k in range(40)]
    kept = mapped_stamps(stamps, 2.5)
    assert len(kept) == 10
    assert all(b - a == 400 * MS for a, b in zip(kept, kept[1:]))


def test_drones_with_the_same_stamps_map_the_same_instants_whatever_they_lose():
    stamps = [5_000 * MS + k * 100 * MS for k in range(30)]
    lossy = [s for i, s in enumerate(stamps) if i % 7 != 3]   # this drone lost some images
    full, partial = mapped_stamps(stamps, 2.5), mapped_stamps(lossy, 2.5)
    # where the lossy drone still has the slot's first image, both map that same instant
    assert set(partial) & set(full) == {s for s in full if s in lossy}
    assert len(partial) == len(full)      # a lost first image is replaced by the next of its slot


def test_unsynchronised_cameras_map_instants_less_than_a_camera_period_apart():
    a = [k * 100 * MS for k in range(50)]
    b = [s + 37 * MS for s in a]
    ka, kb = mapped_stamps(a, 2.5), mapped_stamps(b, 2.5)
    pairs = list(zip(ka, kb))
    assert len(pairs) >= 12
    assert max(abs(x - y) for x, y in pairs) < 100 * MS


def test_a_bag_played_again_from_its_start_is_mapped_again():
    gate = MapRateGate(2.5)
    first = [gate.admit(k * 100 * MS) for k in range(8)]
    again = [gate.admit(k * 100 * MS) for k in range(8)]
    assert first == again == [True, False, False, False, True, False, False, False]
    assert gate.skipped == 12


@pytest.mark.parametrize('bad', [-1.0, math.nan, math.inf, '2.5'])
def test_a_map_rate_that_is_not_a_rate_is_refused(bad):
    with pytest.raises(ValueError, match='map rate must be'):
        map_period_ns(bad)


def test_carried_map_rate_halves_the_camera_rate_until_the_model_fits_half_the_cores():
    from rsdfm_core.model.frame_cost import carried_map_rate

    # 150 ms a frame of 4 drones on 2 cores: 10 Hz would take 75 %, 5 Hz 37.5 %
    assert carried_map_rate(150.0, 2, 10.0) == 5.0
    assert carried_map_rate(400.0, 2, 10.0) == 2.5          # 50 %, just fits
    assert carried_map_rate(150.0, 2, 10.0, speed=0.25) == 10.0   # a quarter of real time
    assert carried_map_rate(150.0, 8, 10.0) == 10.0
    assert carried_map_rate(1e6, 1, 10.0) == 0.625          # never below half a map a second
    with pytest.raises(ValueError, match='cost_ms > 0'):
        carried_map_rate(0.0, 2, 10.0)


def test_fleet_frame_cost_is_the_model_work_of_one_frame(tmp_path):
    import time

    from rsdfm_core.model.frame_cost import fleet_frame_cost_ms
    from rsdfm_core.model.runtime import Runtime
    from rsdfm_core.world import Simulator, WorldConfig

    frame = next(iter(Simulator(WorldConfig(seed=3, drones=2, dense_gt=False, width=160,
                                            height=120)).frames(1)))
    rt = Runtime.load(None, threads=1)
    started = time.perf_counter()
    cost = fleet_frame_cost_ms(rt, frame, repeats=2)
    elapsed_ms = (time.perf_counter() - started) * 1e3
    # milliseconds of one pass: two drone sides, the BEV decoder and three heads take more than
    # 1 ms on a CPU, and the two timed passes (median = their mean) fit in the call's wall time
    assert cost > 1.0
    assert 2 * cost <= elapsed_ms
