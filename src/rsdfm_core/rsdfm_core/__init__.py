"""rsdfm core: everything that runs without ROS (geometry, world, model, codec, metrics, bags)."""

__version__ = '0.1.0'
