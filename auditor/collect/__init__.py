"""Collect stage: get raw ARM resources from files (offline) or from Azure (live)."""
