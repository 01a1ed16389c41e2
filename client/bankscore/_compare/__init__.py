"""Comparing two models on the same records (``bankscore.compare``, ``bankscore compare``).

Needs numpy and scipy (``pip install 'bankscore[compare]'``); ``import bankscore`` does not load it.
"""

from bankscore._compare._api import compare
from bankscore._compare._concentration import Hotspot
from bankscore._compare._result import CompareResult, DeltaP, Gate, Latency, Paired, Samples, Side

__all__ = ["CompareResult", "DeltaP", "Gate", "Hotspot", "Latency", "Paired", "Samples", "Side", "compare"]
