"""The drone-side network exported to ONNX and run with onnxruntime, against PyTorch eager.

Exported: image encoder + height distribution + splat into the BEV grid (the scatter-add of the
lifting), i.e. everything on the drone that has weights or heavy tensor work. Inputs are the image
and the per-frame geometry (ray/ground points, their validity and the camera's cell validity),
which stay in eager PyTorch in both paths: they depend only on K and the pose and use
torch.linalg.inv, which ONNX has no operator for. The legacy TorchScript exporter turns the
index_add_ of the splat into a ScatterND that overwrites duplicates (wrong sums), so the dynamo
exporter (torch.export + onnxscript) is used, through the engine's export_onnx and ort_session
(rsdfm_core.model.engine), which the nodes use too.
"""
from __future__ import annotations

import itertools
from pathlib import Path
import time

import numpy as np
import torch

from rsdfm_bench.timing import all_threads, paired, progress, repeat, summary, torch_threads
from rsdfm_core.model.engine import export_onnx, ort_session

RTOL, ATOL = 1e-3, 1e-4  # outputs agree when |onnx - eager| <= ATOL + RTOL * |eager| everywhere


class DroneNet(torch.nn.Module):
    """The exported drone-side network: image and per-frame geometry -> BEV map.

    image (1, 3, H, W), points (1, D, N, 3), ok (1, 1, N), valid (1, R, W) -> (1, C, R, W).
    """

    def __init__(self, net, grid):
        super().__init__()
        self.net, self.grid = net, grid

    def forward(self, image, points, ok, valid):
        from rsdfm_core.model.lift import splat
        feats, logits = self.net.encoder(image)
        probs = torch.softmax(logits, 1).flatten(2)
        bev, _ = splat(feats.flatten(2), probs, points, ok, self.grid)
        return bev * valid[:, None].to(bev.dtype)


class EncoderNet(torch.nn.Module):
    """image (1, 3, H, W) -> features and bin logits.

    The encoder alone, to split the drone side's time.
    """

    def __init__(self, net):
        super().__init__()
        self.encoder = net.encoder

    def forward(self, image):
        return self.encoder(image)


@torch.no_grad()
def drone_inputs(rt, view) -> dict[str, torch.Tensor]:
    """Return the exported network's inputs for one camera view (geometry computed in eager)."""
    from rsdfm_core.model.lift import camera_validity
    from rsdfm_core.model.network import prepare_image

    img, Ks = prepare_image(view.image, view.K, rt.image_size)
    image = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
    K = torch.tensor(Ks[None], dtype=torch.float32)
    pose = torch.tensor(np.asarray(view.cam_to_map)[None], dtype=torch.float32)
    stride = rt.config['model']['feat_stride']
    hw = (image.shape[-2] // stride, image.shape[-1] // stride)
    points, ok = rt.net.lift_points(K, pose, hw)
    valid = camera_validity(K, pose, image.shape[-2:], rt.region)
    return {'image': image, 'points': points.float(), 'ok': ok, 'valid': valid}


def measure_onnx(rt, views: list, runs: int, out_dir: Path) -> dict:
    """Export, check agreement on every view, time eager vs onnxruntime with 1 and all threads."""
    import onnxruntime as ort  # noqa: F401  (fail here, before exporting, if it is missing)

    model = DroneNet(rt.net, rt.region).eval()
    feeds = [drone_inputs(rt, v) for v in views]
    path = out_dir / 'drone_side.onnx'
    progress(f'onnx: exporting the drone-side network to {path}')
    t0 = time.perf_counter()
    try:
        export_onnx(model, tuple(feeds[0].values()), path, list(feeds[0]), ['bev'])
    except Exception as exc:  # report why, do not stop the other measurements
        return {
            'ok': False,
            'error': f'export failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}',
        }
    export_s = time.perf_counter() - t0
    res = {
        'ok': True,
        'exporter': 'torch.onnx.export(dynamo=True), opset 18',
        'export_s': export_s,
        'onnx_bytes': path.stat().st_size,
        'rtol': RTOL,
        'atol': ATOL,
        'onnxruntime': ort.__version__,
        'part': (
            'encoder + height distribution + splat (geometry and codec stay eager in both paths)'
        ),
    }
    sessions = {n: ort_session(path, n) for n in (1, all_threads())}
    worst = 0.0
    agree = True
    with torch.no_grad():
        for feed in feeds:
            ref = model(**feed).numpy()
            got = sessions[1].run(None, {k: v.numpy() for k, v in feed.items()})[0]
            diff = np.abs(got - ref)
            worst = max(worst, float(diff.max()))
            agree &= bool(np.allclose(got, ref, rtol=RTOL, atol=ATOL))
    res.update({'agree': agree, 'max_abs_diff': worst, 'views_checked': len(feeds)})
    np_feeds = [{key: v.numpy() for key, v in f.items()} for f in feeds]
    for n in (1, all_threads()):
        torch_feed, ort_feed, view = (
            itertools.cycle(x).__next__ for x in (feeds, np_feeds, views)
        )
        with torch_threads(n), torch.no_grad():
            eager, onnx = paired(
                lambda: model(**torch_feed()), lambda: sessions[n].run(None, ort_feed()), runs
            )
            geometry = repeat(lambda: drone_inputs(rt, view()), runs)
        res[f'threads_{"1" if n == 1 else "all"}'] = {
            'threads': n, 'eager': eager, 'onnxruntime': onnx, 'geometry_eager': geometry,
            'speedup': eager['median_ms'] / onnx['median_ms']}
        progress(
            f'onnx ({n} thread{"s" * (n > 1)}): eager {eager["median_ms"]:.1f} ms, onnxruntime '
            f'{onnx["median_ms"]:.1f} ms, {eager["median_ms"] / onnx["median_ms"]:.2f}x'
        )
    res['encoder_only'] = encoder_only(rt, feeds, runs, out_dir)
    res['ground_parts'] = ground_parts(rt, runs)
    return res


def ground_parts(rt, runs: int, gap_s: float = 0.03) -> dict:
    """Time each ground-station part (engine.GROUND_PARTS) eager vs onnxruntime, one thread.

    The onnxruntime side is the nodes' own: the engine's OrtModule with its cached, checked file
    (make setup prepares them), numpy conversions included. Input: seeded noise of the size the
    part sees over the model's region. The calls alternate with `gap_s` of idle before each, as
    a node's calls come with its frames (back to back, both run on warm caches and eager looks
    better than a node sees it).
    """
    from rsdfm_core.model.engine import example_inputs, GROUND_PARTS, with_ground_engines

    with torch_threads(1):
        ground, engaged = with_ground_engines(rt, warn=progress)
    net = ground.net
    out = {}
    for name in GROUND_PARTS:
        if name not in engaged:
            out[name] = {'ok': False, 'error': 'it runs eager (see the warning above)'}
            continue
        ort_part = getattr(net, name)
        x = example_inputs(ort_part.eager, rt.config, name)
        calls = {'eager': lambda: ort_part.eager(*x), 'onnxruntime': lambda: ort_part(*x)}
        times = {k: [] for k in calls}
        with torch_threads(1), torch.no_grad():
            for i in range(runs + 2):                  # the first two are warm-up
                for key, call in calls.items():
                    time.sleep(gap_s)
                    t = time.perf_counter()
                    call()
                    if i >= 2:
                        times[key].append((time.perf_counter() - t) * 1e3)
        eager, onnx = summary(times['eager']), summary(times['onnxruntime'])
        out[name] = {'ok': True, 'input': list(x[0].shape), 'eager': eager, 'onnxruntime': onnx,
                     'speedup': eager['median_ms'] / onnx['median_ms']}
        progress(f'onnx {name} (1 thread): eager {eager["median_ms"]:.1f} ms, onnxruntime '
                 f'{onnx["median_ms"]:.1f} ms')
    return out


def encoder_only(rt, feeds: list[dict], runs: int, out_dir: Path) -> dict:
    """Time the encoder alone, eager vs onnxruntime (1 thread).

    This shows how much of the speed-up the convolutions give.
    """
    model = EncoderNet(rt.net).eval()
    path = out_dir / 'encoder.onnx'
    try:
        export_onnx(model, (feeds[0]['image'],), path, ['image'], ['features', 'logits'])
    except Exception as exc:
        return {'ok': False, 'error': f'{type(exc).__name__}: {str(exc).splitlines()[0][:300]}'}
    sess = ort_session(path, 1)
    images = itertools.cycle([f['image'] for f in feeds]).__next__
    with torch_threads(1), torch.no_grad():
        eager, onnx = paired(
            lambda: model(images()), lambda: sess.run(None, {'image': images().numpy()}), runs
        )
    progress(
        f'onnx encoder only (1 thread): eager {eager["median_ms"]:.1f} ms, '
        f'onnxruntime {onnx["median_ms"]:.1f} ms'
    )
    return {
        'ok': True,
        'eager': eager,
        'onnxruntime': onnx,
        'speedup': eager['median_ms'] / onnx['median_ms'],
    }
