"""Admission of drone topics and maps into fusion, step by step on a fake clock.

The allow-list, the agent limit, the per-agent rate limit, and forgetting of silent topics and
agents.
"""
from __future__ import annotations

import pytest

from rsdfm_core.admission import (
    Admission, AdmissionLimits, Discovery, Forgotten, namespace_of, namespace_pattern)

RATE_HZ = 30.0                         # limit: 10 Hz expected x factor 3
FORGET_S = 10.0


class FakeClock:
    """A monotonic clock the test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


def topic(ns: str) -> str:
    return f'/{ns}/rsdfm/bev_feature'


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def admission(clock: FakeClock, **limits) -> Admission:
    return Admission(AdmissionLimits(**{'max_rate_hz': RATE_HZ, 'forget_after': FORGET_S,
                                        **limits}), clock=clock)


def reasons(refusals) -> list[str | None]:
    return [r.reason if r is not None else None for r in refusals]


def test_namespace_patterns_are_normalised_and_checked():
    assert namespace_pattern('uav*') == '/uav*'
    assert namespace_pattern('/fleet/uav1/') == '/fleet/uav1'
    for bad in ('', '/', 'uav 1', 'uav[12]', 'a//b', 'uav1;rm'):
        assert namespace_pattern(bad) is None, bad
    assert namespace_of('/fleet/uav1/rsdfm/bev_feature') == '/fleet/uav1'
    assert namespace_of('/rsdfm/bev_feature') == '/'


def test_every_new_topic_is_subscribed_once_without_an_allow_list(clock):
    a = admission(clock)
    found = a.discovered([topic('uav1'), topic('x9')])
    assert found.subscribe == [topic('uav1'), topic('x9')] and found.refusals == []
    assert a.discovered([topic('uav1'), topic('x9')]).subscribe == []      # known already


def test_topics_outside_the_allow_list_are_refused_once_while_they_exist(clock):
    a = admission(clock, allowed_namespaces=('/uav*',))
    graph = [topic('uav1'), topic('uav12'), topic('fake01'), '/rsdfm/bev_feature']
    found = a.discovered(graph)
    assert found.subscribe == [topic('uav1'), topic('uav12')]
    assert sorted(r.detail for r in found.refusals) == [
        f'topic {t} not subscribed: namespace {ns} is not in allowed_namespaces'
        for t, ns in (('/fake01/rsdfm/bev_feature', '/fake01'), ('/rsdfm/bev_feature', '/'))]
    assert {r.reason for r in found.refusals} == {'not_allowed'}
    assert a.discovered(graph).refusals == []                             # counted once per topic
    a.discovered(graph[:2])                                               # fake01 left the graph
    assert reasons(a.discovered(graph[:3]).refusals) == ['not_allowed']   # and came back


def test_agents_beyond_max_agents_are_refused_and_known_agents_keep_their_place(clock):
    a = admission(clock, max_agents=3)
    assert reasons(a.admit(f'uav{i}') for i in (1, 2, 3)) == [None] * 3
    refusal = a.admit('fake01')
    assert refusal.reason == 'too_many_agents'
    assert refusal.detail == ('map from fake01: 3 agents known already (max_agents); its topic '
                              'is not listened to while no place is free')
    clock.advance(0.1)
    assert reasons(a.admit(f'uav{i}') for i in (1, 2, 3)) == [None] * 3
    assert reasons(a.admit(f'fake{i:02d}') for i in range(100)) == ['too_many_agents'] * 100
    assert sorted(a.agents) == ['uav1', 'uav2', 'uav3']


def test_the_topic_of_an_agent_without_a_place_is_parked_until_a_place_is_free(clock):
    a = admission(clock, max_agents=2)
    graph = [topic('uav1'), topic('uav2'), topic('fake01')]
    assert a.discovered(graph).subscribe == sorted(graph)
    for ns in ('uav1', 'uav2', 'fake01'):
        a.heard(topic(ns), ns)
    assert reasons(a.admit(ns, topic(ns)) for ns in ('uav1', 'uav2', 'fake01')) == [
        None, None, 'too_many_agents']
    assert not a.subscribed(topic('fake01')) and a.subscribed(topic('uav1'))
    assert a.discovered(graph).subscribe == []           # parked while every place is taken
    assert a.parked_topics == 1
    clock.advance(FORGET_S / 2)
    a.heard(topic('uav1'), 'uav1')
    assert a.admit('uav1', topic('uav1')) is None        # uav2 falls silent
    clock.advance(FORGET_S / 2 + 0.1)
    assert a.forget_silent() == Forgotten([topic('uav2')], ['uav2'])
    # a place is free: fake01 is listened to again (and uav2's topic, its publisher still there),
    # but neither is waited for as a newly started drone
    assert a.discovered(graph).subscribe == [topic('fake01'), topic('uav2')]
    assert a.waiting_topics() == []
    assert a.admit('fake01', topic('fake01')) is None


def test_topics_found_while_every_place_is_taken_are_parked_at_once_and_not_waited_for(clock):
    a = admission(clock, max_agents=2)
    a.discovered([topic('uav1'), topic('uav2'), topic('uav3')])
    assert a.waiting_topics() == [topic('uav1'), topic('uav2'), topic('uav3')]
    for ns in ('uav1', 'uav2'):
        a.heard(topic(ns), ns)
        assert a.admit(ns, topic(ns)) is None
    assert a.waiting_topics() == []                       # uav3 could not be fused anyway
    fakes = [topic(f'fake{i:02d}') for i in range(100)]
    found = a.discovered([topic('uav1'), topic('uav2')] + fakes)
    assert found.subscribe == [] and reasons(found.refusals) == ['too_many_agents'] * 100
    assert found.refusals[0].detail == (f'topic {fakes[0]} not subscribed: 2 agents known '
                                        'already (max_agents)')
    assert a.parked_topics == 100
    assert a.discovered([topic('uav1'), topic('uav2')] + fakes).refusals == []   # once each


def test_a_parked_topic_that_left_the_graph_is_refused_again_when_it_comes_back(clock):
    a = admission(clock, max_agents=1)
    a.discovered([topic('uav1'), topic('fake01')])
    assert a.admit('uav1', topic('uav1')) is None
    assert a.admit('fake01', topic('fake01')).reason == 'too_many_agents'
    assert a.discovered([topic('uav1'), topic('fake01')]) == Discovery([], [])
    a.discovered([topic('uav1')])                        # fake01 left the graph
    assert a.parked_topics == 0
    found = a.discovered([topic('uav1'), topic('fake01')])
    assert found.subscribe == [] and reasons(found.refusals) == ['too_many_agents']
    assert a.parked_topics == 1


def test_an_agent_at_the_expected_rate_is_never_rate_limited(clock):
    a = admission(clock)
    results = []
    for _ in range(600):                      # 60 s at 10 Hz
        results.append(a.admit('uav1'))
        clock.advance(0.1)
    assert results == [None] * 600


def test_a_backlog_of_one_second_passes_and_a_flood_is_cut_to_the_rate_limit(clock):
    a = admission(clock)
    burst = int(RATE_HZ)                      # one second of maps at the limit, all at once
    assert reasons(a.admit('uav1') for _ in range(burst)) == [None] * burst
    refusal = a.admit('uav1')
    assert refusal.reason == 'rate_limited'
    assert refusal.detail == ('map from uav1: more than 30 maps/s '
                              '(expected_rate_hz x rate_limit_factor)')
    admitted = 0
    for _ in range(500):                      # then 5 s at 100 Hz
        clock.advance(0.01)
        admitted += a.admit('uav1') is None
    assert admitted == pytest.approx(5 * RATE_HZ, abs=1)
    assert a.admit('uav2') is None            # the bucket is per agent


def test_silent_topics_and_agents_are_forgotten_after_forget_after(clock):
    a = admission(clock, max_agents=2)
    a.discovered([topic('uav1'), topic('uav2')])
    for ns in ('uav1', 'uav2'):
        a.heard(topic(ns), ns)
        assert a.admit(ns) is None
    assert a.admit('uav3') is not None        # no place left
    clock.advance(FORGET_S / 2)
    a.heard(topic('uav1'), 'uav1')
    assert a.admit('uav1') is None            # uav1 goes on, uav2 silent from here
    clock.advance(FORGET_S / 2)
    gone = a.forget_silent()
    assert gone.topics == [] and gone.agents == []      # silent exactly forget_after: kept
    clock.advance(0.001)
    gone = a.forget_silent()
    assert gone.topics == [topic('uav2')] and gone.agents == ['uav2']
    assert list(a.topics) == [topic('uav1')] and list(a.agents) == ['uav1']
    assert (a.topics_forgotten, a.agents_forgotten) == (1, 1)
    assert a.admit('uav3') is None            # the forgotten agent's place is free again


def test_refused_maps_keep_a_topic_and_its_agent_from_being_forgotten(clock):
    a = admission(clock)
    a.discovered([topic('uav1')])
    for _ in range(int(3 * FORGET_S)):        # 3 x forget_after of a 100 Hz flood
        for _ in range(100):
            a.heard(topic('uav1'), 'uav1')
            a.admit('uav1')
            clock.advance(0.01)
    assert a.forget_silent() == Forgotten([], [])
    assert list(a.agents) == ['uav1'] and list(a.topics) == [topic('uav1')]


def test_a_forgotten_drone_is_found_again_and_a_silent_one_found_again_is_not_waited_for(clock):
    a = admission(clock)
    a.discovered([topic('uav1'), topic('uav2')])
    assert a.waiting_topics() == [topic('uav1'), topic('uav2')]    # just found: drones starting
    a.heard(topic('uav1'), 'uav1')
    assert a.waiting_topics() == [topic('uav2')]
    clock.advance(FORGET_S + 0.1)
    assert a.forget_silent().topics == [topic('uav1'), topic('uav2')]
    # both publishers are still in the graph: found again, but not waited for as new drones
    assert a.discovered([topic('uav1'), topic('uav2')]).subscribe == [topic('uav1'), topic('uav2')]
    assert a.waiting_topics() == []
    a.heard(topic('uav2'), 'uav2')            # uav2 sends again: an ordinary drone
    assert a.admit('uav2') is None and 'uav2' in a.agents
    assert a.discovered([topic('uav3')]).subscribe == [topic('uav3')]
    assert a.waiting_topics() == [topic('uav3')]     # a topic never seen is waited for


def test_the_names_kept_of_forgotten_topics_are_bounded(clock):
    a = admission(clock, max_agents=2)
    names = [topic(f'fake{i:03d}') for i in range(100)]
    a.discovered(names)
    clock.advance(FORGET_S + 0.1)
    assert len(a.forget_silent().topics) == 100 and a.topics == {}
    a.discovered(names)
    assert a.waiting_topics() == names[:-8]   # only the 8 most recent still count as returning


def test_a_topic_that_never_sent_is_kept_while_its_publisher_is_there(clock):
    """A slow-starting drone keeps its subscription, so its first map is not lost."""
    a = admission(clock)
    a.discovered([topic('uav1'), topic('uav2')])
    a.heard(topic('uav1'), 'uav1')
    assert a.admit('uav1') is None
    clock.advance(FORGET_S + 0.1)
    present = [topic('uav1'), topic('uav2')]
    gone = a.forget_silent(present)
    # uav1 sent and went silent: forgotten; uav2 never sent and is still in the graph: kept
    assert gone.topics == [topic('uav1')] and gone.agents == ['uav1']
    assert list(a.topics) == [topic('uav2')]
    assert a.waiting_topics() == [topic('uav2')]          # still a drone starting up
    a.heard(topic('uav2'), 'uav2')                         # its first map, 10 s late
    assert a.admit('uav2') is None
    clock.advance(FORGET_S + 0.1)
    assert a.forget_silent([topic('uav3')]).topics == [topic('uav2')]  # publisher gone
    a.discovered([topic('uav3')])
    clock.advance(FORGET_S + 0.1)
    assert a.forget_silent([]).topics == [topic('uav3')]  # never sent, publisher gone too
