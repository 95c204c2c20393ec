"""Pre-training strategies (one file each) and the pieces they share (config, optimisers, trainer)."""
