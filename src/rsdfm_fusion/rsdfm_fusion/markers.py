"""The visualization_msgs markers for rviz2.

Boxes coloured by class with label and track id, trajectory lines.
"""
from __future__ import annotations

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from rsdfm_ros.conversions import object_to_detection

CLASS_COLOURS = {'car': (0.1, 0.6, 1.0), 'truck': (1.0, 0.6, 0.1), 'bus': (0.9, 0.2, 0.8)}


def _colour(label: str, alpha: float) -> ColorRGBA:
    r, g, b = CLASS_COLOURS.get(label, (0.8, 0.8, 0.8))
    return ColorRGBA(r=r, g=g, b=b, a=alpha)


def _clear(header) -> Marker:
    return Marker(header=header, action=Marker.DELETEALL)


def detection_markers(header, objects) -> MarkerArray:
    """Return a CUBE per box (class colour) and a text 'label #track' above it.

    Old markers are cleared first.
    """
    markers = [_clear(header)]
    life = Duration(sec=1)
    for i, o in enumerate(objects):
        d = object_to_detection(o)
        markers.append(
            Marker(
                header=header,
                ns='boxes',
                id=i,
                type=Marker.CUBE,
                action=Marker.ADD,
                pose=d.pose,
                scale=d.size,
                color=_colour(o.label, 0.6),
                lifetime=life,
            )
        )
        text = Marker(
            header=header,
            ns='labels',
            id=i,
            type=Marker.TEXT_VIEW_FACING,
            action=Marker.ADD,
            color=_colour(o.label, 1.0),
            lifetime=life,
            text=f'{o.label} #{o.track_id}' if o.track_id else o.label,
        )
        text.pose.position.x, text.pose.position.y = d.pose.position.x, d.pose.position.y
        text.pose.position.z = d.pose.position.z + o.height / 2 + 1.5
        text.pose.orientation.w = 1.0
        text.scale.z = 2.0
        markers.append(text)
    return MarkerArray(markers=markers)


def trajectory_markers(header, tracks) -> MarkerArray:
    """Return a LINE_STRIP per track from the object's position through its predicted points."""
    markers = [_clear(header)]
    for i, (state, points) in enumerate(tracks):
        line = Marker(
            header=header,
            ns='trajectories',
            id=i,
            type=Marker.LINE_STRIP,
            action=Marker.ADD,
            color=_colour(state.label, 1.0),
            lifetime=Duration(sec=1),
        )
        line.pose.orientation.w = 1.0
        line.scale.x = 0.4
        line.points = [Point(x=float(state.x), y=float(state.y), z=float(state.z))] + \
                      [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in points]
        markers.append(line)
    return MarkerArray(markers=markers)
