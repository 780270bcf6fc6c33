"""The demo's picture of one frame and its video of the whole run (matplotlib, no display).

Each picture shows what each drone saw, the fused BEV map, and the graph's detections,
segmentation and trajectories drawn over the ground truth.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import matplotlib

matplotlib.use('Agg')
from matplotlib.patches import Polygon  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from rsdfm_core.geometry import BevGrid  # noqa: E402
from rsdfm_core.types import Frame, ObjectState  # noqa: E402

CLASS_COLOURS = {'car': '#1f9bff', 'truck': '#ff9a1a', 'bus': '#e633cc'}


def _corners(o: ObjectState) -> np.ndarray:
    c, s = np.cos(o.yaw), np.sin(o.yaw)
    dx = np.array([0.5, -0.5, -0.5, 0.5]) * o.length
    dy = np.array([0.5, 0.5, -0.5, -0.5]) * o.width
    return np.stack([o.x + c * dx - s * dy, o.y + s * dx + c * dy], 1)


def _boxes(ax, objects, edge=None, fill=False, lw=1.2, alpha=1.0) -> None:
    for o in objects:
        colour = edge or CLASS_COLOURS.get(o.label, 'w')
        ax.add_patch(
            Polygon(
                _corners(o),
                closed=True,
                fill=fill,
                edgecolor=colour,
                facecolor=colour if fill else 'none',
                lw=lw,
                alpha=alpha,
            )
        )


def _extent(grid: BevGrid) -> list[float]:
    x0, y0 = grid.origin_x, grid.origin_y          # axis-aligned fusion regions (yaw 0)
    return [x0, x0 + grid.cols * grid.resolution, y0, y0 + grid.rows * grid.resolution]


def _feature_rgb(features: np.ndarray) -> np.ndarray:
    """First three principal components of the fused features as an RGB image (R, W, 3)."""
    C, R, W = features.shape
    X = features.reshape(C, -1).astype(np.float32).T
    X = X - X.mean(0)
    _, _, vt = np.linalg.svd(X[:: max(1, len(X) // 4000)], full_matrices=False)
    P = (X @ vt[:3].T).reshape(R, W, 3)
    lo, hi = np.percentile(P, 2, axis=(0, 1)), np.percentile(P, 98, axis=(0, 1))
    return np.clip((P - lo) / np.maximum(hi - lo, 1e-6), 0, 1)


@dataclass
class DemoPanels:
    """What the picture of one frame shows: cameras, fused BEV, boxes, segmentation, paths."""

    frame: Frame
    grid: BevGrid
    gt: list[ObjectState]
    detections: list[ObjectState]
    fused: np.ndarray | None
    segmentation: np.ndarray | None
    trajectories: list[tuple[int, str, np.ndarray]]
    gt_futures: dict[int, np.ndarray]
    agents: list[str]
    title: str


def draw_demo_figure(path: str | Path, panels: DemoPanels, dpi: int = 80) -> Path:
    """Write the picture of one frame; returns its path."""
    fig = demo_figure(panels)
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def write_demo_video(path: str | Path, panels: Iterable[DemoPanels], frame_s: float,
                     dpi: int = 55) -> Path:
    """Write an animated GIF of the run, one picture per frame, `frame_s` seconds each.

    A GIF rather than MP4: it needs no video encoder (there is no ffmpeg here) and plays inline
    in a README and in a browser. Small dpi keeps 50 frames of four cameras to a few MB.
    """
    from PIL import Image

    pictures = []
    for p in panels:
        fig = demo_figure(p)
        fig.set_dpi(dpi)
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())
        plt.close(fig)
        # octree keeps the few saturated colours of boxes and paths that median cut merges
        pictures.append(Image.fromarray(rgba[..., :3]).quantize(
            colors=256, method=Image.Quantize.FASTOCTREE))
    if not pictures:
        raise ValueError('no frame to put in the video')
    path = Path(path)
    pictures[0].save(path, save_all=True, append_images=pictures[1:],
                     duration=max(20, int(round(frame_s * 1000))), loop=0, optimize=True)
    return path


def demo_figure(panels: DemoPanels) -> plt.Figure:
    """Return the figure of one frame (the caller saves and closes it)."""
    return _demo_figure(**vars(panels))


def _demo_figure(
    frame: Frame,
    grid: BevGrid,
    gt: list[ObjectState],
    detections: list[ObjectState],
    fused: np.ndarray | None,
    segmentation: np.ndarray | None,
    trajectories: list[tuple[int, str, np.ndarray]],
    gt_futures: dict[int, np.ndarray],
    agents: list[str],
    title: str,
) -> plt.Figure:
    n = len(frame.views)
    fig = plt.figure(figsize=(max(4.2 * n, 15.0), 9.0))
    top = fig.add_gridspec(1, n, top=0.93, bottom=0.64, wspace=0.05)
    bottom = fig.add_gridspec(1, 3, top=0.58, bottom=0.06)
    for i, view in enumerate(frame.views):
        ax = fig.add_subplot(top[0, i])
        ax.imshow(view.image)
        ax.set_title(
            f'{view.agent_id} camera' + ('' if view.agent_id in agents else ' (not fused)'),
            fontsize=10,
        )
        ax.axis('off')
    ext = _extent(grid)
    axes = [fig.add_subplot(bottom[0, i]) for i in range(3)]
    ax = axes[0]
    if fused is not None:
        ax.imshow(_feature_rgb(fused), extent=ext, origin='lower')
    for view in frame.views:
        x, y = np.clip(view.cam_to_map[:2, 3], [ext[0] + 3, ext[2] + 3], [ext[1] - 12, ext[3] - 5])
        ax.plot(x, y, 'w^', ms=7)
        ax.annotate(view.agent_id, (x + 2, y + 2), color='w', fontsize=8)
    ax.set_title(f'fused BEV (PCA) of {", ".join(agents)}', fontsize=10)
    ax = axes[1]
    if segmentation is not None:
        ax.imshow(
            np.ma.masked_equal(segmentation, 0),
            extent=ext,
            origin='lower',
            cmap='autumn',
            alpha=0.5,
        )
    _boxes(ax, gt, edge='#22aa22', lw=2.0)
    _boxes(ax, detections)
    ax.set_title(
        f'{len(detections)} detections, segmentation (orange), truth (green)', fontsize=10
    )
    ax = axes[2]
    _boxes(ax, gt, edge='#22aa22', lw=1.0, fill=True, alpha=0.35)
    for track_id, label, points in trajectories:
        ax.plot(
            points[:, 0], points[:, 1], '-o', ms=2, color=CLASS_COLOURS.get(label, 'k'), lw=1.5
        )
    for fut in gt_futures.values():
        ax.plot(fut[:, 0], fut[:, 1], ':', color='#22aa22', lw=1.5)
    ax.set_title('trajectories (3 s), true futures dotted', fontsize=10)
    for ax in axes:
        ax.set_xlim(ext[0], ext[1])
        ax.set_ylim(ext[2], ext[3])
        ax.set_aspect('equal')
        ax.set_xlabel('map x (m)')
        ax.set_ylabel('map y (m)')
    fig.suptitle(title, fontsize=12)
    return fig
