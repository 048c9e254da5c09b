"""Collect stage: get raw ARM resources live from Azure (Resource Graph, ARM).

Input files are read by the ingest stage (`auditor.ingest`).
"""
