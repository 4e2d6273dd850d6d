"""custseg: customer segments from marketplace order history, and how long they stay valid."""
from __future__ import annotations

from .errors import CustsegError, InputError, ModelFileError
from .ingest import Dataset, load, open_data
from .rfm import rfm
from .schema import LogMapping

__version__ = "0.1.0"

# The modelling API pulls in scikit-learn and SciPy: loaded on first use, so that every CLI
# command (and ``import custseg``) starts fast.
_LAZY = {"fit": ".segment", "assign": ".model", "SegmentModel": ".model", "build_report": ".report",
         "backtest": ".stability", "BacktestSettings": ".stability"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'custseg' has no attribute {name!r}")

__all__ = ["CustsegError", "InputError", "ModelFileError", "Dataset", "load", "open_data", "LogMapping", "rfm", "fit",
           "assign", "SegmentModel",
           "build_report", "backtest", "BacktestSettings", "__version__"]
