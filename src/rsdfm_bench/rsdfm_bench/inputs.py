"""Inputs shared by the measurements: one simulated 8-drone bag, its frames, the loaded model."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
import shutil

from rsdfm_bench.plan import BenchPlan
from rsdfm_bench.timing import progress
from rsdfm_core.types import Frame

BAG_DRONES = 8  # the largest fleet of the scaling measurement; smaller fleets use the first drones


@dataclass
class BenchInputs:
    bag: Path
    frames: list[Frame]        # every frame with all BAG_DRONES views
    runtime: object            # rsdfm_core.model.runtime.Runtime
    weights: str | None

    def fleet(self, drones: int, count: int | None = None) -> list[Frame]:
        """Return the first `count` frames seen by the first `drones` drones only."""
        return [fleet_frame(f, drones) for f in self.frames[:count]]


def fleet_frame(frame: Frame, drones: int) -> Frame:
    """Return the same instant seen by the first `drones` drones (ground truth unchanged)."""
    return replace(frame, views=frame.views[:drones])


def simulate_bag(out_dir: Path, plan: BenchPlan) -> Path:
    """Write the bench's bag.

    8 drones, plan.bag_frames at 10 Hz, 640x480, no dense ground truth.
    """
    from rsdfm_core.bag import write_bag
    from rsdfm_core.world import Simulator, WorldConfig

    bag = out_dir / 'bag'
    shutil.rmtree(bag, ignore_errors=True)
    progress(f'simulating {plan.bag_frames} frames of {BAG_DRONES} drones into {bag}')
    sim = Simulator(WorldConfig(seed=plan.seed, drones=BAG_DRONES, dense_gt=False))
    write_bag(bag, sim.frames(plan.bag_frames, progress=True), total=plan.bag_frames)
    return bag


def load_inputs(out_dir: Path, plan: BenchPlan, weights: str | None) -> BenchInputs:
    """Simulate the bag, read it back (as every consumer of a bag would) and load the model."""
    from rsdfm_core.bag import read_frames
    from rsdfm_core.model.runtime import Runtime

    bag = simulate_bag(out_dir, plan)
    frames = list(read_frames(bag))
    weights = snapshot_weights(out_dir, weights)
    rt = Runtime.load(weights, threads=1)
    return BenchInputs(bag, frames, rt, weights)


def snapshot_weights(out_dir: Path, weights: str | None) -> str | None:
    """Return a private copy of the checkpoint.

    The graph's node processes and this process then measure the same weights even if the file is
    replaced during the run (None stays None: random init).
    """
    from rsdfm_core.model.weights import DEFAULT_WEIGHTS

    src = Path(weights) if weights else DEFAULT_WEIGHTS
    if not src.is_file():
        return weights
    dst = out_dir / 'weights.pt'
    shutil.copyfile(src, dst)
    return str(dst)
