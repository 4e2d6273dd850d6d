"""custseg: customer segments from marketplace order history, and how long they stay valid."""
from __future__ import annotations

from .errors import CustsegError, InputError, ModelFileError
from .ingest import Dataset, load

__version__ = "0.1.0"

__all__ = ["CustsegError", "InputError", "ModelFileError", "Dataset", "load", "__version__"]
