"""Fast DDS settings for a fleet whose drones reach the ground station over radio links (ROS-free).

- UDPv4 only: the shared-memory transport would carry data between processes of different
  network namespaces past the links (they share /dev/shm). Discovery is multicast on the
  ground station's bridge (SUBNET range). Socket buffers of 4 MiB (net.core.rmem_max here):
  a drone's camera images (0.9 MB at 640x480) reach its perception node over UDP on its own
  loopback, and overflow the default 208 KiB receive buffer; a lost fragment then waits for a
  heartbeat, seconds, and the image misses its pose.
- Type propagation `registration_only`: without it every participant asks every other for the
  type objects of the endpoints it discovers (the TypeLookup service), a good part of the
  discovery traffic on a slow link.
- Participant announcements every 3 s and a 20 s lease, Fast DDS's defaults, stretched by the
  run's time scale (the replay rate), so in a slowed run they take the same share of a frame's
  bytes as in real time.
- Initial announcements: 10, one a second, at real time (the links run at their real rate while
  the nodes start), instead of Fast DDS's 5 in 0.5 s. A participant whose few first
  announcements found no one yet (its peers still starting) was otherwise found only at its
  first periodic one, 12 s later at replay rate 0.25: in that time the fusion node had
  forgotten another drone's topic as silent, and that drone's first map came 'late'.
- The drones' map topics get a writer profile of their own (rmw_fastrtps looks a profile up by
  topic name): a map expires `lifespan` seconds after it was published, and the writer sends
  heartbeats every `heartbeat` seconds. Without that, a reliable writer whose link dropped out
  resends its whole keep-last history when the link comes back, stale maps the fusion refuses
  anyway, and the reader holds the fresh maps back until the stale ones have arrived: seconds
  before the drone is fused again. With it, the first fresh map after the outage goes through.
"""
from __future__ import annotations

from typing import Mapping
from xml.sax.saxutils import quoteattr

ANNOUNCEMENT_S = 3.0       # Fast DDS defaults, real time
INITIAL_ANNOUNCEMENTS = 10      # one a second while the nodes start (real time)
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024
LEASE_S = 20.0
# Variables that would send the processes elsewhere than the run's own network.
CLEARED = ('ROS_LOCALHOST_ONLY', 'ROS_STATIC_PEERS', 'FASTRTPS_DEFAULT_PROFILES_FILE',
           'ROS_DISCOVERY_SERVER', 'FASTDDS_BUILTIN_TRANSPORTS')


def _duration(seconds: float) -> str:
    sec = int(seconds)
    return f'<sec>{sec}</sec><nanosec>{int(round((seconds - sec) * 1e9))}</nanosec>'


def _map_writer(topic: str, lifespan: float, heartbeat: float) -> str:
    return (f'    <data_writer profile_name={quoteattr(topic)}>\n'
            f'      <qos><lifespan><duration>{_duration(lifespan)}</duration></lifespan></qos>\n'
            f'      <times><heartbeat_period>{_duration(heartbeat)}</heartbeat_period></times>\n'
            '    </data_writer>\n')


def radio_profile_xml(map_topics: list[str], lifespan: float = 1.0, heartbeat: float = 0.2,
                      time_scale: float = 1.0) -> str:
    """Write the Fast DDS XML profiles of a fleet-net run; time_scale = the replay rate."""
    if not (lifespan > 0 and heartbeat > 0 and time_scale > 0):
        raise ValueError(f'lifespan, heartbeat and time scale must be > 0, got {lifespan:g}, '
                         f'{heartbeat:g}, {time_scale:g}')
    writers = ''.join(_map_writer(t, lifespan, heartbeat) for t in map_topics)
    return ('<?xml version="1.0" encoding="UTF-8" ?>\n'
            '<!-- Written by rsdfm fleet-net for one run (rsdfm_bringup/radio_dds.py). -->\n'
            '<dds xmlns="http://www.eprosima.com">\n  <profiles>\n'
            '    <transport_descriptors>\n      <transport_descriptor>\n'
            '        <transport_id>rsdfm_radio_udp</transport_id>\n        <type>UDPv4</type>\n'
            f'        <sendBufferSize>{SOCKET_BUFFER_BYTES}</sendBufferSize>\n'
            f'        <receiveBufferSize>{SOCKET_BUFFER_BYTES}</receiveBufferSize>\n'
            '      </transport_descriptor>\n    </transport_descriptors>\n'
            '    <participant profile_name="rsdfm_radio_participant" is_default_profile="true">\n'
            '      <rtps>\n'
            '        <builtin><discovery_config>\n'
            f'          <initialAnnouncements><count>{INITIAL_ANNOUNCEMENTS}</count>'
            f'<period>{_duration(1.0)}</period></initialAnnouncements>\n'
            f'          <leaseDuration>{_duration(LEASE_S / time_scale)}</leaseDuration>\n'
            f'          <leaseAnnouncement>{_duration(ANNOUNCEMENT_S / time_scale)}'
            '</leaseAnnouncement>\n'
            '        </discovery_config></builtin>\n'
            '        <userTransports>\n'
            '          <transport_id>rsdfm_radio_udp</transport_id>\n'
            '        </userTransports>\n'
            '        <useBuiltinTransports>false</useBuiltinTransports>\n'
            '        <propertiesPolicy><properties><property>\n'
            '          <name>fastdds.type_propagation</name><value>registration_only</value>\n'
            '        </property></properties></propertiesPolicy>\n'
            '      </rtps>\n    </participant>\n'
            f'{writers}  </profiles>\n</dds>\n')


def radio_environment(base: Mapping[str, str], profile: str) -> dict[str, str]:
    """Environment of every process of the run: Fast DDS, the radio profile, subnet discovery."""
    env = {k: v for k, v in base.items() if k not in CLEARED}
    env['RMW_IMPLEMENTATION'] = 'rmw_fastrtps_cpp'
    env['FASTDDS_DEFAULT_PROFILES_FILE'] = str(profile)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'SUBNET'
    env['PYTHONUNBUFFERED'] = '1'
    return env
