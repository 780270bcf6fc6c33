"""`rsdfm bench`: speed, bandwidth and scale of rsdfm measured side by side in one run.

One module per measurement (stages, onnx_export, transport, scaling, bandwidth), shared inputs in
inputs.py and timing.py, and report.py writing RESULTS.md plus PNG plots. Every measurement
returns a plain JSON-able dict; nothing here asserts a speed.
"""
