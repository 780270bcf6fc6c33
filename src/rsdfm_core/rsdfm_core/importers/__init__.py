"""Importers of public datasets into rsdfm bags (ROS-free: rosbags writes the bags)."""
