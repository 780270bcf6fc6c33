"""Fleet-side ROS nodes of rsdfm.

They fuse the drones' BEV maps and decode detections, segmentation and trajectories.
"""
