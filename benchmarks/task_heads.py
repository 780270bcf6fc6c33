"""New BEV tasks from the maps the drones already send: frozen heads against unfrozen ones.

Frozen-feature heads against heads trained with the fusion side unfrozen, and the shipped
heads' scores on a held-out bag.

    python benchmarks/task_heads.py [--out out/heads] [--ship]

For each task of rsdfm_core.tasks.layers: `rsdfm train-head` frozen (the shipped model's fused
maps, only the head learns) and `--unfreeze fusion` (the attention fusion and BEV decoder learn
with the head, on the same scenes, iterations and batches), both scored on the same held-out
scenes (train-head's defaults). Then `rsdfm evaluate --task` of each frozen head on a held-out
simulated bag (seed 5001, 40 frames). Resumable: a run whose JSON exists is not run again.
--ship copies the frozen heads into rsdfm_core/data/heads. Writes docs/task_heads.md and
docs/task_heads.png (truth and layers of one held-out scene).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
import shutil
import subprocess
import sys

REPO = Path(__file__).resolve().parents[1]
VARIANTS = {'frozen': 'none', 'fusion': 'fusion', 'all': 'all'}
JOINT_TASKS = ('road',)   # the whole model from the images: about 25 min per task here
BAG_SEED, BAG_FRAMES = 5001, 40
TARGET = 0.90             # frozen head's IoU as a share of the unfrozen one's


def rsdfm() -> str:
    return str(Path(sys.executable).with_name('rsdfm'))


def train(out: Path, task: str, variant: str) -> dict:
    result = out / f'{task}_{variant}.json'
    if not result.is_file():
        head = out / (f'{task}.pt' if variant == 'frozen' else f'{task}_{variant}.pt')
        print(f'task_heads: training {task} ({variant})', file=sys.stderr, flush=True)
        with open(out / f'{task}_{variant}.log', 'w') as log:
            subprocess.run([rsdfm(), 'train-head', '--task', task, '--out', str(head),
                            '--unfreeze', VARIANTS[variant], '--json', str(result)],
                           check=True, stdout=log, stderr=subprocess.STDOUT)
    return json.loads(result.read_text())


def on_bag(out: Path, task: str) -> dict:
    bag = out / 'bags' / f'seed{BAG_SEED}'
    if not (bag / 'metadata.yaml').is_file():
        subprocess.run([rsdfm(), 'simulate', '--out', str(bag), '--seed', str(BAG_SEED),
                        '--frames', str(BAG_FRAMES), '--no-dense-gt'], check=True,
                       stdout=subprocess.DEVNULL)
    result = out / f'{task}_bag.json'
    if not result.is_file():
        subprocess.run([rsdfm(), 'evaluate', '--bag', str(bag), '--task', task, '--head',
                        str(out / f'{task}.pt'), '--json', str(result)], check=True,
                       stdout=subprocess.DEVNULL)
    return json.loads(result.read_text())


def figure(out: Path, path: Path) -> None:
    """Truth and frozen-head layers of one held-out scene, per task."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    from rsdfm_core.model.runtime import Runtime
    from rsdfm_core.tasks.head import TaskPredictor
    from rsdfm_core.tasks.layers import TASKS
    from rsdfm_core.tasks.scenes import fused_features, simulate_scenes

    rt = Runtime.load(None, threads=1)
    scene = simulate_scenes(rt, [BAG_SEED], 1)
    fused = fused_features(rt, scene)[0].numpy()
    seen = scene.coverage()[0]
    fig, axes = plt.subplots(2, len(TASKS), figsize=(4 * len(TASKS), 8))
    for j, task in enumerate(TASKS):
        layer = TaskPredictor(rt, out / f'{task}.pt').mask(fused)
        for i, (name, img) in enumerate((('truth', scene.targets[task][0]),
                                         ('frozen head', layer))):
            shown = np.where(seen, img.astype(float), 0.5)
            axes[i, j].imshow(shown, origin='lower', cmap='gray', vmin=0, vmax=1)
            axes[i, j].set_title(f'{task}: {name}')
            axes[i, j].axis('off')
    fig.suptitle(f'held-out scene (seed {BAG_SEED}), 4 drones; grey: no drone saw the cell')
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main() -> int:
    from rsdfm_core.tasks.layers import TASKS

    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=str(REPO / 'out' / 'heads'))
    ap.add_argument('--ship', action='store_true', help='copy the frozen heads into the package')
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = ['| task | frozen-feature head IoU | fusion side unfrozen IoU | whole model unfrozen '
            f'IoU | frozen / best unfrozen (target >= {TARGET:.2f}) | frozen head on bag seed '
            f'{BAG_SEED} IoU | head file |',
            '|---|---|---|---|---|---|---|']
    for task in TASKS:
        frozen, fusion = train(out, task, 'frozen'), train(out, task, 'fusion')
        joint = train(out, task, 'all') if task in JOINT_TASKS else None
        best = max(fusion['iou'], joint['iou'] if joint else 0.0)
        bag = on_bag(out, task)
        ratio = frozen['iou'] / best if best > 0 else float('nan')
        size = (out / f'{task}.pt').stat().st_size
        joint_iou = f'{joint["iou"]:.3f}' if joint else '-'
        verdict = 'met' if ratio >= TARGET else 'not met'
        rows.append(f'| {task} | {frozen["iou"]:.3f} | {fusion["iou"]:.3f} | {joint_iou} | '
                    f'{ratio:.2f} ({verdict}) | {bag["iou"]:.3f} ({bag["frames"]} frames) | '
                    f'{size / 1024:.0f} KiB |')
        if args.ship:
            dest = REPO / 'src' / 'rsdfm_core' / 'rsdfm_core' / 'data' / 'heads' / f'{task}.pt'
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(out / f'{task}.pt', dest)
    first = train(out, next(iter(TASKS)), 'frozen')
    figure(out, REPO / 'docs' / 'task_heads.png')
    text = '\n'.join([
        '# New tasks from the same transmitted maps',
        '',
        'Written by `python benchmarks/task_heads.py`. Each head is trained on the fused maps '
        f'of model {first["model_id"]} ({first["train_seeds"]}: {first["scenes_per_seed"]} '
        f'scenes per seed, {first["iterations"]} iterations of 4 scenes) and scored as IoU over '
        f'the cells some drone saw, on the held-out scenes of seeds {first["test_seeds"]} and '
        f'on a held-out bag (seed {BAG_SEED}, {BAG_FRAMES} frames, `rsdfm evaluate --task`). '
        'Frozen: only the head learns; the drones run the shipped weights and send the same '
        'bytes. Fusion side unfrozen: the attention fusion and the BEV decoder learn with the '
        'head, same scenes, iterations and batches. Whole model unfrozen (road only: about 25 '
        'min per task on one thread here): drone side, codec and fusion side learn with the '
        'head from the camera images, same scenes, iterations and batches, codec at the '
        'deployed budget (same bytes per map, but every drone would need the new weights).',
        '',
        *rows,
        '',
        '![truth and layers](task_heads.png)',
        '',
    ])
    (REPO / 'docs' / 'task_heads.md').write_text(text)
    print(text)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
