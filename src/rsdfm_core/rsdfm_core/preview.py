"""The preview.png of a simulated run.

Every drone's view of one frame beside a top view of the town with the vehicle boxes (coloured
by class), the drones and their camera footprints on the ground.
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
from matplotlib.patches import Polygon, Rectangle  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .geometry import pixel_rays, ray_ground_depth  # noqa: E402
from .types import Frame  # noqa: E402

CLASS_COLOURS = {'car': '#00e5ff', 'truck': '#ffb300', 'bus': '#ff3d00'}
DRONE_COLOURS = [
    '#e6194b',
    '#3cb44b',
    '#4363d8',
    '#f58231',
    '#911eb4',
    '#46f0f0',
    '#f032e6',
    '#bcf60c',
]


def camera_footprint(K: np.ndarray, cam_to_map: np.ndarray, width: int, height: int,
                     max_range: float = 400.0, samples: int = 16) -> np.ndarray:
    """Return the (M, 2) ground polygon seen by a camera.

    That is its image border cast onto z = 0, cut at max_range.
    """
    s = np.linspace(0.0, 1.0, samples)
    u = np.concatenate([s * width, np.full(samples, width), (1 - s) * width, np.zeros(samples)])
    v = np.concatenate([np.zeros(samples), s * height, np.full(samples, height), (1 - s) * height])
    t = ray_ground_depth(K, cam_to_map, u, v)
    d = pixel_rays(K, u, v) @ cam_to_map[:3, :3].T
    reach = max_range / np.maximum(np.linalg.norm(d[:, :2], axis=1), 1e-9)
    t = np.minimum(t, reach)
    return cam_to_map[:2, 3] + t[:, None] * d[:, :2]


def box_corners_xy(x: float, y: float, length: float, width: float, yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    local = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]]) * [length / 2, width / 2]
    return local @ np.array([[c, s], [-s, c]]) + [x, y]


def save_preview(path: str | Path, frame: Frame, town, region_size: float = 128.0,
                 background: np.ndarray | None = None) -> Path:
    """Write the picture; background is an optional (N, N, 3) uint8 top-down raster of the town."""
    n = len(frame.views)
    cols = 1 if n == 1 else 2
    rows = math.ceil(n / cols)
    aspect = frame.views[0].image.shape[0] / frame.views[0].image.shape[1]
    side = max(4.2 * rows * aspect / 0.75, 7.0)
    fig = plt.figure(figsize=(5.6 * cols + side, side), dpi=100)
    grid = fig.add_gridspec(rows, cols + 1, width_ratios=[5.6] * cols + [side])
    half = town.size / 2
    for i, view in enumerate(frame.views):
        ax = fig.add_subplot(grid[i // cols, i % cols])
        ax.imshow(view.image)
        ax.set_title(
            view.agent_id,
            color=DRONE_COLOURS[i % len(DRONE_COLOURS)],
            fontsize=12,
            fontweight='bold',
        )
        ax.axis('off')
    top = fig.add_subplot(grid[:, cols])
    if background is not None:
        top.imshow(background, extent=(-half, half, -half, half), origin='lower')
    else:
        top.set_facecolor('#6b8e4e')
        for x0 in town.road_xs:
            top.add_patch(
                Rectangle(
                    (x0 - town.road_half_width, -half),
                    2 * town.road_half_width,
                    town.size,
                    color='#555',
                )
            )
        for y0 in town.road_ys:
            top.add_patch(
                Rectangle(
                    (-half, y0 - town.road_half_width),
                    town.size,
                    2 * town.road_half_width,
                    color='#555',
                )
            )
    for poly in town.buildings.footprints():
        top.add_patch(
            Polygon(poly, closed=True, facecolor='#9e9e9e', edgecolor='#333', lw=0.6, alpha=0.85)
        )
    canopy = town.trees.kind == 1
    top.scatter(
        town.trees.centre[canopy, 0],
        town.trees.centre[canopy, 1],
        s=10,
        c='#1b5e20',
        alpha=0.7,
        lw=0,
    )
    for o in frame.objects:
        top.add_patch(Polygon(box_corners_xy(o.x, o.y, o.length, o.width, o.yaw), closed=True,
                              facecolor=CLASS_COLOURS.get(o.label, 'w'), edgecolor='k', lw=0.4))
    for i, view in enumerate(frame.views):
        colour = DRONE_COLOURS[i % len(DRONE_COLOURS)]
        h, w = view.image.shape[:2]
        fp = camera_footprint(view.K, view.cam_to_map, w, h, max_range=260.0)
        top.add_patch(Polygon(fp, closed=True, facecolor=colour, alpha=0.08, lw=0))
        top.add_patch(Polygon(fp, closed=True, fill=False, edgecolor=colour, lw=2.2))
        cx, cy = view.cam_to_map[0, 3], view.cam_to_map[1, 3]
        u0, v0 = np.array([view.K[0, 2]]), np.array([view.K[1, 2]])
        t0 = min(float(ray_ground_depth(view.K, view.cam_to_map, u0, v0)[0]), 400.0)
        centre = (
            view.cam_to_map[:2, 3]
            + t0 * (pixel_rays(view.K, u0, v0) @ view.cam_to_map[:3, :3].T)[0, :2]
        )
        top.plot([cx, centre[0]], [cy, centre[1]], color=colour, lw=1.2, ls=':')
        top.plot([cx], [cy], marker='^', color=colour, ms=10, mec='k')
        top.annotate(
            view.agent_id,
            (cx, cy),
            textcoords='offset points',
            xytext=(6, 6),
            color=colour,
            fontsize=10,
            fontweight='bold',
        )
    r = region_size / 2
    top.add_patch(
        Rectangle((-r, -r), 2 * r, 2 * r, fill=False, ls='--', lw=1.5, edgecolor='white')
    )
    for label, colour in CLASS_COLOURS.items():
        top.plot([], [], 's', color=colour, label=label)
    top.legend(loc='lower left', fontsize=9, framealpha=0.8)
    pts = np.array([[v.cam_to_map[0, 3], v.cam_to_map[1, 3]] for v in frame.views])
    lim = max(half, float(np.abs(pts).max()) + 15.0)
    top.set_xlim(-lim, lim)
    top.set_ylim(-lim, lim)
    top.set_aspect('equal')
    top.set_title(f'top view of map (metres), frame {frame.index}; dashed: fusion region, '
                  'outlines: camera footprints', fontsize=11)
    fig.tight_layout(pad=0.6)
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
