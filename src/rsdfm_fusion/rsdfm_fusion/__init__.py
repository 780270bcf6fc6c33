"""Fleet-side ROS nodes of rsdfm: fuse the drones' BEV maps and decode detections, segmentation and trajectories."""
