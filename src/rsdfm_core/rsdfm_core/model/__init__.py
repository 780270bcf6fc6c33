"""The RS-DFM network, in two sides.

Drone side: encoder, ground-prior lifting, codec. Fusion side: fusion, decoder, heads.
"""
