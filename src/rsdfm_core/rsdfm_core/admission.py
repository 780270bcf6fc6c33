"""Which drone topics the fusion node subscribes and which maps it lets through, free of ROS.

Anything on the DDS domain can create a `<namespace>/rsdfm/bev_feature` topic and publish on
it, so the fusion node bounds what a stranger can cost it (each limit is a node parameter):
- allowed namespaces: a topic whose namespace matches none of the patterns (fnmatch, e.g.
  '/uav*', where * also matches '/'; no pattern = every namespace) is never subscribed; it is
  refused once ('not_allowed'), and once more only if it leaves the graph and comes back;
- max_agents: while max_agents agents are known, a newly found topic is not subscribed and a
  map from an agent not known yet is refused ('too_many_agents', once per topic: the topic is
  parked, i.e. unsubscribed and left so while every place is taken), so a crowd of strangers
  costs next to nothing; the agents already known keep their place, and once one is
  forgotten the parked topics still in the graph are subscribed again;
- rate: each agent has a token bucket refilled at max_rate_hz that holds one second of maps at
  that rate, so a backlog DDS delivers at once passes but a sustained flood is cut down to
  max_rate_hz; a map that finds the bucket empty is dropped ('rate_limited');
- forgetting: a topic with no message for forget_after s is forgotten (the node destroys its
  subscription), and so is an agent none of whose maps came for that long (its place and its
  bucket; the node drops it from the scheduler). A topic that has never sent is kept while its
  publisher is in the graph (the node says which topics are): a drone that starts slowly would
  otherwise be unsubscribed and subscribed again, and could lose its first map in between. A
  drone that comes back is found again as a new topic and agent. A topic found again
  (forgotten or parked before) is not waited for as a newly started drone would be until it
  sends, nor is any new topic while no place is free.

The node checks a map (rsdfm_core.validation) before admit(), so malformed maps take no place.
Times are seconds of a monotonic clock (injected: tests drive a fake one).
"""
from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
import re
import time
from typing import Callable, Iterable

from rsdfm_core.validation import Refusal

_NAMESPACE_PATTERN = re.compile(r'^/?[A-Za-z0-9_*?]+(/[A-Za-z0-9_*?]+)*/?$')


@dataclass(frozen=True)
class AdmissionLimits:
    """The limits of one fusion node."""

    max_agents: int = 32
    max_rate_hz: float = 30.0                    # expected rate x rate limit factor
    forget_after: float = 10.0                   # s of silence before a topic / agent is forgotten
    allowed_namespaces: tuple[str, ...] = ()     # fnmatch patterns ('/uav*'); empty = all

    @property
    def burst(self) -> float:
        """Maps an agent may send at once after a quiet spell: one second at max_rate_hz."""
        return max(1.0, self.max_rate_hz)


@dataclass(frozen=True)
class Discovery:
    """What one scan of the graph found: topics to subscribe now, and topics refused."""

    subscribe: list[str]
    refusals: list[Refusal]


@dataclass(frozen=True)
class Forgotten:
    """Topics (to unsubscribe) and agents (to drop from the scheduler) silent too long."""

    topics: list[str]
    agents: list[str]


@dataclass
class _Topic:
    heard_at: float                 # clock time found, then of its last message
    agent: str | None = None        # agent id of its last message; None: no message yet
    returning: bool = False         # found again after being forgotten or parked, silent since


@dataclass
class _Agent:
    tokens: float
    filled_at: float                # clock time the tokens were counted
    heard_at: float                 # clock time of its last map that reached admit()


def namespace_pattern(text: str) -> str | None:
    """`text` as an absolute namespace pattern ('uav*' -> '/uav*'), or None if it is not one."""
    if not _NAMESPACE_PATTERN.match(text):
        return None
    return '/' + text.strip('/')


def namespace_of(topic: str) -> str:
    """Return the namespace of a drone's feature topic ('/uav1/rsdfm/bev_feature' -> '/uav1')."""
    return topic.rsplit('/', 2)[0] or '/'


class Admission:
    """Decides subscriptions and admitted maps for the fusion node; see the module docstring."""

    def __init__(self, limits: AdmissionLimits,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.topics: dict[str, _Topic] = {}
        self.agents: dict[str, _Agent] = {}
        self.topics_forgotten = 0                # counted since start
        self.agents_forgotten = 0
        self._not_allowed: set[str] = set()      # refused topics, while they are in the graph
        self._parked: set[str] = set()           # topics of agents without a place, likewise
        self._forgotten: dict[str, None] = {}    # recently forgotten topics, oldest first

    def allowed(self, namespace: str) -> bool:
        """Whether the allow-list admits this namespace (an empty list admits all)."""
        patterns = self.limits.allowed_namespaces
        return not patterns or any(fnmatchcase(namespace, p) for p in patterns)

    # --- topics -------------------------------------------------------------------------
    def discovered(self, topics: Iterable[str]) -> Discovery:
        """Say which of the drone topics now in the graph to subscribe and which to refuse.

        New topics are subscribed (parked ones too once a place is free); a new one outside the
        allow-list, or found while every place is taken (parked at once: its maps could not be
        fused), is refused.
        """
        now = self.clock()
        present = set(topics)
        self._not_allowed &= present
        self._parked &= present
        if len(self.agents) < self.limits.max_agents:
            self._forgotten.update(dict.fromkeys(self._parked))     # found again, not new
            self._parked.clear()
        subscribe, refusals = [], []
        for topic in sorted(present - self.topics.keys() - self._not_allowed - self._parked):
            namespace = namespace_of(topic)
            if not self.allowed(namespace):
                self._not_allowed.add(topic)
                detail = (f'topic {topic} not subscribed: namespace {namespace} is not in '
                          'allowed_namespaces')
                refusals.append(Refusal('not_allowed', detail))
                continue
            if len(self.agents) >= self.limits.max_agents:
                self._parked.add(topic)
                detail = (f'topic {topic} not subscribed: {len(self.agents)} agents known '
                          'already (max_agents)')
                refusals.append(Refusal('too_many_agents', detail))
                continue
            self.topics[topic] = _Topic(now, returning=topic in self._forgotten)
            self._forgotten.pop(topic, None)
            subscribe.append(topic)
        return Discovery(subscribe, refusals)

    def heard(self, topic: str, agent: str) -> None:
        """Note a message on `topic` from `agent` (checked or not): the topic is not silent."""
        t = self.topics.get(topic)
        if t is not None:
            t.heard_at, t.agent, t.returning = self.clock(), agent, False

    @property
    def parked_topics(self) -> int:
        """Topics in the graph left unsubscribed because their agent found no place."""
        return len(self._parked)

    def subscribed(self, topic: str) -> bool:
        """Tell whether the node is to listen to `topic`: False once forgotten or parked."""
        return topic in self.topics

    def waiting_topics(self) -> list[str]:
        """Return the topics found that sent nothing yet and were not known before.

        They are drones starting, waited for; none while every place is taken, as such a drone
        could not be fused anyway.
        """
        if len(self.agents) >= self.limits.max_agents:
            return []
        return [name for name, t in self.topics.items() if t.agent is None and not t.returning]

    # --- maps ---------------------------------------------------------------------------
    def admit(self, agent: str, topic: str = '') -> Refusal | None:
        """Let one checked map of `agent`, received on `topic`, through (None), or say why not.

        A map refused for want of a place parks its topic (see subscribed()).
        """
        now = self.clock()
        a = self.agents.get(agent)
        if a is None:
            if len(self.agents) >= self.limits.max_agents:
                if self.topics.pop(topic, None) is not None:
                    self._parked.add(topic)
                return Refusal('too_many_agents', f'map from {agent}: {len(self.agents)} agents '
                                                  'known already (max_agents); its topic is not '
                                                  'listened to while no place is free')
            a = self.agents[agent] = _Agent(self.limits.burst, now, now)
        a.heard_at = now
        a.tokens = min(self.limits.burst, a.tokens + (now - a.filled_at) * self.limits.max_rate_hz)
        a.filled_at = now
        if a.tokens < 1.0:
            return Refusal('rate_limited', f'map from {agent}: more than '
                                           f'{self.limits.max_rate_hz:g} maps/s '
                                           '(expected_rate_hz x rate_limit_factor)')
        a.tokens -= 1.0
        return None

    # --- forgetting ---------------------------------------------------------------------
    def forget_silent(self, present: Iterable[str] | None = None) -> Forgotten:
        """Forget the topics and agents silent for more than forget_after s; say which.

        present: the drone topics with a publisher in the graph now; a topic among them that
        has never sent is kept (None: nothing is known of the graph, every silent topic goes).
        """
        now = self.clock()
        limit = self.limits.forget_after
        waiting = set(present or ())
        topics = sorted(n for n, t in self.topics.items() if now - t.heard_at > limit
                        and not (t.agent is None and n in waiting))
        agents = sorted(n for n, a in self.agents.items() if now - a.heard_at > limit)
        for name in topics:
            del self.topics[name]
            self._forgotten[name] = None
        for name in agents:
            del self.agents[name]
        while len(self._forgotten) > 4 * self.limits.max_agents:    # names only, bounded
            del self._forgotten[next(iter(self._forgotten))]
        self.topics_forgotten += len(topics)
        self.agents_forgotten += len(agents)
        return Forgotten(topics, agents)
