"""Synthetic multi-drone world: procedural town, traffic, drone fleet, ray-cast renderer."""
from .config import WorldConfig
from .simulator import Simulator
from .town import Town

__all__ = ['WorldConfig', 'Simulator', 'Town']
