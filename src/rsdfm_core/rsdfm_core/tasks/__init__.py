"""New BEV tasks on the fused maps the drones already send: ground truth, heads, training."""
