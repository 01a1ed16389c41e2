"""Rewrite the pinned spec and the shipped record model after the feature contract changed.

    python swagger/update_shipped_record.py

``swagger/openapi3.json`` is built from the contract (``bankscore swagger export``), then
``client/bankscore/_bank_marketing_record.py`` is the generator's record module for it. Tests fail on any byte
of difference from what this writes.
"""

from pathlib import Path

from bankscore.swagger import build_pinned_spec, load_document, render_record_module

HERE = Path(__file__).resolve().parent
SPEC = HERE / "openapi3.json"
RECORD = HERE.parent / "client" / "bankscore" / "_bank_marketing_record.py"

if __name__ == "__main__":
    SPEC.write_bytes(build_pinned_spec())
    RECORD.write_text(render_record_module(load_document(SPEC), record_class="BankMarketingRecord"), encoding="utf-8")
    print(f"wrote {SPEC} and {RECORD}")
