"""SQL views that reconstruct Sleepwalker's detections with their evidence, and the engine that runs them."""
