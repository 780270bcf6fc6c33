"""Per-drone ROS node of rsdfm: camera image and pose in, compressed BEV feature map out."""
