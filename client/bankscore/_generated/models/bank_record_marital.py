from typing import Literal

BankRecordMarital = Literal["divorced", "married", "single", "unknown"]

BANK_RECORD_MARITAL_VALUES: set[BankRecordMarital] = {
    "divorced",
    "married",
    "single",
    "unknown",
}


def check_bank_record_marital(value: str) -> BankRecordMarital:
    if value in BANK_RECORD_MARITAL_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {BANK_RECORD_MARITAL_VALUES!r}"
    )
