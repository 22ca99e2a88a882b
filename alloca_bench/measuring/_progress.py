"""The sweep's progress bar: tqdm's notebook widget where ipywidgets is installed, else its
text bar, without the "IProgress not found" warning tqdm.auto prints in a notebook lacking
ipywidgets (a text bar is what it falls back to anyway)."""
from __future__ import annotations

import importlib.util

if importlib.util.find_spec("ipywidgets") is not None:
    from tqdm.auto import tqdm
else:
    from tqdm.std import tqdm

__all__ = ["tqdm"]
