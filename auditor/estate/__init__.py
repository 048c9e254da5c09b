"""Estate stage: a typed, indexed model of raw ARM resources."""

from auditor.estate.build import Merged, build_estate, merge_inputs
from auditor.estate.model import Estate

__all__ = ["Estate", "Merged", "build_estate", "merge_inputs"]
