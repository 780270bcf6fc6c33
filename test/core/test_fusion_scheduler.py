"""The fusion node's frame scheduling, frame by frame on a fake clock.

When a frame is fused and with which drones' maps, which maps are refused and why, when a drone
is dropped and used again. Wall times and stamps are in milliseconds from the start of each
test; `deliver` does what the node does for a map (offer it, then look for ready frames).
"""
from __future__ import annotations

import pytest

from rsdfm_core.fusion_scheduler import FusionScheduler, ReadyFrame

MS = 1_000_000                       # ns per ms
T0 = 1_700_000_000 * 10**9           # stamp of the fleet's first frame
WINDOW_MS, MAX_WAIT_MS, MAX_SKEW_MS, TIMEOUT_MS = 50, 1000, 1000, 3000


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.ms = 0

    def __call__(self) -> float:
        return self.ms / 1000

    def advance(self, ms: int) -> None:
        self.ms += ms


def stamp(ms: int) -> int:
    return T0 + ms * MS


def item(agent: str, ms: int) -> str:
    """Return the opaque map the scheduler hands back: a label of which drone and stamp it was."""
    return f'{agent}@{ms}'


def frame(ms: int, *agents: str) -> ReadyFrame:
    return ReadyFrame(stamp(ms), {a: item(a, ms) for a in agents})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def scheduler(clock: FakeClock, **kwargs) -> FusionScheduler:
    return FusionScheduler(WINDOW_MS * MS, MAX_WAIT_MS / 1000, MAX_SKEW_MS * MS, TIMEOUT_MS / 1000,
                           clock=clock, **kwargs)


def deliver(s: FusionScheduler, agent: str, ms: int, waiting: int = 0) -> list[ReadyFrame]:
    """Offer agent's map stamped `ms`, then return the frames ready (as the node does).

    A refused map is an error here: tests of refusals call offer() themselves.
    """
    refusal = s.offer(agent, stamp(ms), item(agent, ms))
    assert refusal is None, refusal
    return list(s.ready_frames(waiting))


def fleet(clock: FakeClock, agents: tuple[str, ...], **kwargs) -> FusionScheduler:
    """Return a scheduler whose drones all sent (and had fused) a first frame stamped 0."""
    s = scheduler(clock, **kwargs)
    for a in agents:
        assert s.offer(a, stamp(0), item(a, 0)) is None
    assert list(s.ready_frames()) == [frame(0, *agents)]
    return s


def test_complete_frame_is_fused_at_once(clock):
    s = fleet(clock, ('uav1', 'uav2'))
    assert deliver(s, 'uav1', 100) == []                           # waits for uav2
    assert deliver(s, 'uav2', 100) == [frame(100, 'uav1', 'uav2')]  # no wall time passed
    assert not s.has_pending


def test_a_newly_found_drone_is_waited_for_until_max_wait(clock):
    s = fleet(clock, ('uav1',))
    assert deliver(s, 'uav1', 100, waiting=1) == []
    clock.advance(MAX_WAIT_MS - 1)
    assert list(s.ready_frames(1)) == []
    clock.advance(2)
    assert list(s.ready_frames(1)) == [frame(100, 'uav1')]


def test_missing_drone_is_waited_for_max_wait_then_fused_without(clock):
    s = fleet(clock, ('uav1', 'uav2'))
    assert deliver(s, 'uav1', 100) == []
    clock.advance(MAX_WAIT_MS - 1)
    assert list(s.ready_frames()) == []
    clock.advance(2)
    assert list(s.ready_frames()) == [frame(100, 'uav1')]


def test_map_arriving_after_its_stamp_was_fused_is_refused_late(clock):
    s = fleet(clock, ('uav1', 'uav2'))
    deliver(s, 'uav1', 100)
    clock.advance(MAX_WAIT_MS + 1)
    assert list(s.ready_frames()) == [frame(100, 'uav1')]
    for ms in (100, 100 + WINDOW_MS):                  # the frame's stamp and within window of it
        refusal = s.offer('uav2', stamp(ms), item('uav2', ms))
        assert refusal is not None and refusal.reason == 'late'
        assert refusal.detail == (f'map from uav2 at {stamp(ms) / 1e9:.3f} '
                                  'arrived after that stamp was fused')
    assert s.offer('uav2', stamp(101 + WINDOW_MS), item('uav2', 101 + WINDOW_MS)) is None


def test_reordered_maps_within_the_window_join_their_frames(clock):
    s = fleet(clock, ('uav1', 'uav2'))
    jitter = WINDOW_MS // 2                            # uav2's capture a little after uav1's
    assert deliver(s, 'uav1', 100) == []
    assert deliver(s, 'uav1', 200) == []
    assert deliver(s, 'uav2', 200 + jitter) == []      # frame 100, the oldest, still waits
    fused = deliver(s, 'uav2', 100 + jitter)           # arrives last: frames 100 and 200 complete
    assert fused == [ReadyFrame(stamp(ms), {'uav1': item('uav1', ms),
                                            'uav2': item('uav2', ms + jitter)})
                     for ms in (100, 200)]


def test_skewed_drone_clock_is_refused_and_does_not_hold_the_fleet(clock):
    good = ('uav1', 'uav2', 'uav3')
    s = fleet(clock, good)
    for ahead_ms in (-2 * MAX_SKEW_MS, MAX_SKEW_MS + 1):
        refusal = s.offer('uav9', stamp(ahead_ms), item('uav9', ahead_ms))
        assert refusal is not None and refusal.reason == 'stamp_skew'
        assert refusal.detail == (f'map from uav9 stamped {ahead_ms / 1000:+.2f} s from the '
                                  f'fleet clock (max_skew {MAX_SKEW_MS / 1000:g} s)')
    s.refresh_liveness()
    assert s.live_agents() == list(good) and s.dropped_agents() == ['uav9']
    for a in good[:-1]:
        assert deliver(s, a, 100) == []
    assert deliver(s, good[-1], 100) == [frame(100, *good)]      # uav9 not waited for
    edge = 100 + MAX_SKEW_MS                           # exactly max_skew ahead: accepted
    assert s.offer('uav9', stamp(edge), item('uav9', edge)) is None


@pytest.mark.parametrize('gap_ms, ahead_ms, accepted', [
    (2000, 2000, True),                             # the first map after a 2 s radio gap
    (2000, 2000 + MAX_SKEW_MS, True),               # ... plus max_skew of clock difference
    (2000, 2000 + MAX_SKEW_MS + 1, False),
    (0, 2000, False),                               # 2 s ahead with no gap: a skewed clock
])
def test_after_a_radio_gap_the_first_map_back_is_newer_by_the_gap_not_skewed(
        clock, gap_ms, ahead_ms, accepted):
    s = fleet(clock, ('uav1', 'uav2', 'uav3'))       # fleet clock: the median drone, still at 0
    clock.advance(gap_ms)
    refusal = s.offer('uav1', stamp(ahead_ms), item('uav1', ahead_ms))
    assert (refusal is None) == accepted, refusal
    if not accepted:
        assert refusal.reason == 'stamp_skew'


def test_frames_the_fleet_clock_left_behind_are_fused_with_what_came(clock):
    # uav3 is lost after frame 0; a backlog of uav1/uav2 frames arrives in a burst (no wall time
    # passes, so max_wait never expires): a frame is fused once the fleet clock (the newest
    # stamps) is more than max_skew past it
    s = fleet(clock, ('uav1', 'uav2', 'uav3'))
    last = 1500
    refs = range(100, last + 1, 100)
    fused = []
    for ms in refs:
        fused += deliver(s, 'uav1', ms) + deliver(s, 'uav2', ms)
    assert fused == [frame(ms, 'uav1', 'uav2') for ms in refs if last - ms > MAX_SKEW_MS]
    assert fused                                       # the case is not empty


def test_drone_is_dropped_after_drone_timeout_and_used_again_when_back(clock):
    s = fleet(clock, ('uav1', 'uav2'))
    s.refresh_liveness()
    for ms in range(1000, TIMEOUT_MS + 1, 1000):       # uav2 silent; uav1 goes on
        clock.advance(1000)
        deliver(s, 'uav1', ms)
    assert s.refresh_liveness() == []                  # silent exactly drone_timeout: live
    clock.advance(1)
    assert s.refresh_liveness() == [('uav2', False)]
    assert s.live_agents() == ['uav1'] and s.dropped_agents() == ['uav2']
    assert list(s.ready_frames()) == [frame(TIMEOUT_MS, 'uav1')]   # no longer waits for uav2
    clock.advance(999)
    assert deliver(s, 'uav1', 4000) == [frame(4000, 'uav1')]   # not waited for any more
    clock.advance(1000)
    assert deliver(s, 'uav2', 5000) == []              # back: its frame waits for uav1
    assert s.refresh_liveness() == [('uav2', True)]
    assert deliver(s, 'uav1', 5000) == [frame(5000, 'uav1', 'uav2')]
    assert s.live_agents() == ['uav1', 'uav2'] and s.dropped_agents() == []


def test_maps_older_than_a_fused_frame_are_pruned(clock):
    s = fleet(clock, ('uav1', 'uav2'))

    def held(agent: str) -> list[int]:
        return [(st - T0) // MS for st, _ in s.drones[agent].maps]

    deliver(s, 'uav1', 100)
    deliver(s, 'uav1', 200)
    assert deliver(s, 'uav2', 100) == [frame(100, 'uav1', 'uav2')]
    assert held('uav1') == [100, 200] and held('uav2') == [100]     # none older than 100 - window
    assert deliver(s, 'uav2', 200) == [frame(200, 'uav1', 'uav2')]
    assert held('uav1') == [200] and held('uav2') == [200]


def test_each_drone_keeps_at_most_max_maps_unfused_maps(clock):
    bound = 4
    s = fleet(clock, ('uav1', 'uav2'), max_maps=bound)
    refs = list(range(100, 700, 100))                  # uav2 lost; uav1 sends more than the bound
    for ms in refs:
        assert deliver(s, 'uav1', ms) == []
    clock.advance(MAX_WAIT_MS + 1)
    # every frame is due; the oldest lost their only map to the bound and are retired unfused
    assert list(s.ready_frames()) == [frame(ms, 'uav1') for ms in refs[-bound:]]
    assert not s.has_pending


def test_a_forgotten_drone_leaves_nothing_behind_and_is_new_when_it_comes_back(clock):
    s = fleet(clock, ('uav1', 'uav2'))
    assert s.offer('uav9', stamp(-5000), item('uav9', -5000)).reason == 'stamp_skew'
    clock.advance(TIMEOUT_MS + 1)
    s.refresh_liveness()
    assert s.dropped_agents() == ['uav1', 'uav2', 'uav9']
    for agent in ('uav2', 'uav9'):
        s.forget(agent)
    assert sorted(s.drones) == ['uav1'] and s.dropped_agents() == ['uav1']
    # uav9's stamp no longer holds the fleet clock 5 s back (it would refuse this as stamp_skew),
    # and the frame waits for no forgotten drone
    assert deliver(s, 'uav1', 4000) == [frame(4000, 'uav1')]
    assert deliver(s, 'uav2', 4100) == []                        # back: live, waited for again
    assert s.refresh_liveness() == [('uav1', True), ('uav2', True)]
    assert deliver(s, 'uav1', 4100) == [frame(4100, 'uav1', 'uav2')]


def test_one_frame_per_call_lets_maps_taken_between_fuses_join_their_frames(clock):
    """A node that fell behind: three frames wait, each missing uav2's map, still queued.

    Fusing the whole backlog in one go takes 3 x 400 ms, so the wall-clock wait of the frames
    behind the first runs out while their maps sit in the node's queue. next_ready hands out one
    frame; the node takes its queued maps before the next.
    """
    s = fleet(clock, ('uav1', 'uav2'))
    for ms in (100, 200, 300):
        assert s.offer('uav1', stamp(ms), item('uav1', ms)) is None
    assert s.offer('uav2', stamp(100), item('uav2', 100)) is None
    clock.advance(MAX_WAIT_MS - 1)
    assert s.next_ready() == frame(100, 'uav1', 'uav2')
    clock.advance(400)                                   # fusing frame 100 took 400 ms
    assert s.offer('uav2', stamp(200), item('uav2', 200)) is None      # taken from the queue
    assert s.next_ready() == frame(200, 'uav1', 'uav2')
    clock.advance(400)
    assert s.offer('uav2', stamp(300), item('uav2', 300)) is None
    assert s.next_ready() == frame(300, 'uav1', 'uav2')
    assert s.next_ready() is None and not s.has_pending
