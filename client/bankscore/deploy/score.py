"""The entry script the Azure ML inference server loads: ``init()`` and ``run()`` of ``bankscore_scoring``.

bankscore copies this file into every deployment folder as ``score.py``, with the ``bankscore_scoring``
package beside it (the server puts the folder on ``sys.path``). The code lives in the package, as small
modules; this file only names what the server calls.
"""

from bankscore_scoring.route import init, run

__all__ = ["init", "run"]
