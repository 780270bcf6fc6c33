"""The demo's video keeps the colours of its picture: boxes, paths and truth stay told apart."""
import numpy as np


def test_video_frames_keep_the_saturated_colours_of_the_picture(tmp_path):
    import matplotlib.pyplot as plt
    from PIL import Image

    from rsdfm_bringup.demo_figure import demo_figure, DemoPanels, write_demo_video
    from rsdfm_core.geometry import BevGrid
    from rsdfm_core.world import Simulator, WorldConfig

    frame = next(iter(Simulator(WorldConfig(seed=4, drones=2, dense_gt=False, width=160,
                                            height=120)).frames(1)))
    grid = BevGrid(-32.0, -32.0, 0.0, 1.0, 64, 64)
    gt = [o for o in frame.objects if abs(o.x) < 30 and abs(o.y) < 30]
    paths = [(o.track_id, 'car', np.array([[o.x + k, o.y, 0.0] for k in range(6)])) for o in gt]
    panels = DemoPanels(frame, grid, gt, gt, None, None, paths, {}, ['uav1'], 'colours')
    video = write_demo_video(tmp_path / 'v.gif', [panels], 0.1, dpi=55)
    fig = demo_figure(panels)
    fig.set_dpi(55)
    fig.canvas.draw()
    picture = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    plt.close(fig)
    with Image.open(video) as gif:
        shown = np.asarray(gif.convert('RGB')).astype(int)
    assert shown.shape == picture.shape
    saturated = picture.max(-1) - picture.min(-1) > 100          # boxes, paths, camera colours
    assert saturated.sum() > 500
    error = np.abs(shown - picture).max(-1)[saturated]
    assert np.median(error) < 25, np.percentile(error, [50, 90])
