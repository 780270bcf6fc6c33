"""The RS-DFM network: drone side (encoder, ground-prior lifting, codec) and fusion side (fusion, decoder, heads)."""
