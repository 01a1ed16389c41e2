"""The one error the Swagger tooling raises: ``SwaggerError``, a ``BankscoreError``.

The command line turns it into a one-paragraph message without a traceback. Messages name the file or URL at
fault and never contain the key that was sent.
"""

from __future__ import annotations

from bankscore._exceptions import BankscoreError

__all__ = ["SwaggerError"]


class SwaggerError(BankscoreError):
    """A spec could not be fetched, read, converted, compared or generated from."""
