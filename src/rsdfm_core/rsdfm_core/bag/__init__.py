"""Bag I/O: rosbag2 (MCAP) writing and reading of simulated frames with rosbags.

Plus the message conversions both directions need.
"""
from .reader import read_frames
from .source import BagError, BagSource
from .typestore import find_msg_dir, make_typestore
from .writer import write_bag

__all__ = ['write_bag', 'read_frames', 'BagError', 'BagSource', 'make_typestore', 'find_msg_dir']
