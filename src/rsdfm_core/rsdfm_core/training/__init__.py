"""Training data, targets, the training loop and the evaluation loop of the RS-DFM model."""
