from typing import Literal

BankRecordPoutcome = Literal["failure", "nonexistent", "success"]

BANK_RECORD_POUTCOME_VALUES: set[BankRecordPoutcome] = {
    "failure",
    "nonexistent",
    "success",
}


def check_bank_record_poutcome(value: str) -> BankRecordPoutcome:
    if value in BANK_RECORD_POUTCOME_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {BANK_RECORD_POUTCOME_VALUES!r}"
    )
