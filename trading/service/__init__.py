"""Trading rules: plain functions taking a ``Session`` first (no HTTP, no commits)."""
