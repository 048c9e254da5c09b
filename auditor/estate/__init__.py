"""Estate stage: a typed, indexed model of raw ARM resources."""

from auditor.estate.build import build_estate
from auditor.estate.model import Estate

__all__ = ["Estate", "build_estate"]
