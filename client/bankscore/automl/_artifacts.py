"""Where a registered version's documents live in its run: names shared by the writers and the readers.

Kept free of imports so that reading a card (``bankscore models card``) does not load the training stack.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CARD_JSON", "CARD_MARKDOWN", "REPORT_ARTIFACT_DIR"]

# The run's artifact folder that holds the training report and the model card.
REPORT_ARTIFACT_DIR: Final = "report"
CARD_JSON: Final = "model_card.json"
CARD_MARKDOWN: Final = "model_card.md"
