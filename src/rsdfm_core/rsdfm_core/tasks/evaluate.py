"""Score a new task's head on a bag: the layer it publishes against the truth, as IoU.

The bag's frames go through the drone side, codec and fusion side as in flight; the truth of
the static tasks comes from the town of the bag's simulated world (metadata custom_data),
that of `stationary` from the bag's ground-truth boxes. Cells no drone saw are not scored, nor
the first frames of a head with history (before one of history_s earlier).
"""
from __future__ import annotations

from rsdfm_core.metrics.segmentation import LayerIoU
from rsdfm_core.tasks.head import TaskPredictor
from rsdfm_core.tasks.layers import STATIC_TASKS, task_mask
from rsdfm_core.types import Frame
from rsdfm_core.world.town import Town


def evaluate_task(frames: list[Frame], rt, predictor: TaskPredictor, town: Town | None,
                  budget: dict | None = None, align=None, reference: str | None = None) -> dict:
    """Return the IoU of the predictor's layer over the frames (static tasks need the town).

    align, reference: the fusion side's map alignment, as in evaluate_frames().
    """
    from rsdfm_core.model.runtime import DroneEncoder, FusionDecoder

    task = predictor.task
    if task in STATIC_TASKS and town is None:
        raise ValueError(f'task {task} is scored against the town, and this bag does not say '
                         'which (bags from rsdfm simulate do, in metadata.yaml custom_data)')
    enc, dec = DroneEncoder(rt, budget), FusionDecoder(rt, align=align, reference=reference)
    metric = LayerIoU()
    static = task_mask(task, town, [], dec.region) if task in STATIC_TASKS else None
    scored = 0
    for f in frames:
        fused = dec.fuse(enc.encode_views(f.views))
        layer = predictor.layer_at(f.stamp_ns, fused.features)
        if layer is None:
            continue
        truth = static if static is not None else task_mask(task, town, f.objects, dec.region)
        metric.add(layer, truth, fused.coverage > 0)
        scored += 1
    if not scored:
        raise ValueError(f'the head of {task} reads the fused map of {predictor.history_s:g} s '
                         f'before as well, and none of the {len(frames)} frames has one that '
                         'old before it: give a longer bag')
    return {'task': task, 'iou': metric.iou, 'frames': len(frames), 'frames_scored': scored,
            'head_model_id': predictor.meta['model_id'], 'head_info': predictor.meta['info']}
