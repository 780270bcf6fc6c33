"""rsdfm's shared ROS layer: message conversions, QoS, diagnostics, parameters, node bases.

Both sides of the fleet use it: the drone side (rsdfm_perception) and the ground station
(rsdfm_fusion). It depends on rclpy, the message packages and rsdfm_core only.
"""
