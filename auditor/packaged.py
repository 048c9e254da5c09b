"""Where the data shipped with pathaudit lives: the rule catalog, the KQL and the demo estate.

An installed wheel carries them under auditor/_data/<name> (pyproject.toml, force-include); a source
checkout has them at the top of the repository. Foundation module: imports nothing from auditor, so
any stage (and `report.locate`, which must not import the audit pipeline) can ask for them.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Installed wheel: auditor/_data/<name>; source checkout: the top-level folder."""
    installed = PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    return PACKAGE_DIR.parent / name


def demo_dir() -> Path:
    """The bundled demo estate: auditor/_data/demo-contoso, else fixtures/estates/demo-contoso."""
    installed = data_dir("demo-contoso")
    if installed.is_dir():
        return installed
    return PACKAGE_DIR.parent / "fixtures" / "estates" / "demo-contoso"
