"""Evaluation metrics: BEV AP with rotated IoU, segmentation IoU/PQ, trajectory ADE/FDE, bytes."""
