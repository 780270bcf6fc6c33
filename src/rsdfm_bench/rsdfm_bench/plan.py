"""How much each measurement does in a quick run (while developing) and in the full run."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchPlan:
    """Sizes of one bench run; `quick()` finishes in under 2 minutes, `full()` in under 20."""

    name: str
    bag_frames: int  # simulated frames at 10 Hz of an 8-drone world (shared by all measurements)
    stage_frames: int            # fleet frames (4 drones each) timed per thread setting
    onnx_runs: int               # timed runs of eager and ONNX Runtime each
    transport_messages: int      # BevFeature messages sent per codec over DDS
    transport_rate_hz: float
    scaling_frames: int  # fleet frames per drone count for the fusion-side time
    graph_drones: tuple[
        int, ...
    ]  # drone counts run through the real ROS graph (the whole bag, at 10 Hz)
    accuracy_frames: int         # frames evaluated per method for accuracy vs bandwidth
    overhead_frames: int         # frames of one drone timed in process against the nodes
    overhead_rate_hz: float      # their pace (the one-drone graph must have cores to spare)
    ground_drones: tuple[int, ...] = ()   # fleet sizes of the ground station alone (recorded maps)
    drones: int = 4              # fleet size of the per-stage and accuracy measurements
    seed: int = 2406

    @staticmethod
    def quick() -> 'BenchPlan':
        return BenchPlan(
            'quick',
            bag_frames=10,
            stage_frames=8,
            onnx_runs=10,
            transport_messages=30,
            transport_rate_hz=20.0,
            scaling_frames=4,
            graph_drones=(2,),
            accuracy_frames=6,
            overhead_frames=6,
            overhead_rate_hz=5.0,
            ground_drones=(2,),
        )

    @staticmethod
    def full() -> 'BenchPlan':
        return BenchPlan(
            'full',
            bag_frames=60,
            stage_frames=50,
            onnx_runs=50,
            transport_messages=200,
            transport_rate_hz=10.0,
            scaling_frames=20,
            graph_drones=(1, 2, 4, 8),
            accuracy_frames=60,
            overhead_frames=30,
            overhead_rate_hz=2.0,
            ground_drones=(1, 2, 4, 8, 16),
        )
