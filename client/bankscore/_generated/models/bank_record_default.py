from typing import Literal

BankRecordDefault = Literal["no", "unknown", "yes"]

BANK_RECORD_DEFAULT_VALUES: set[BankRecordDefault] = {
    "no",
    "unknown",
    "yes",
}


def check_bank_record_default(value: str) -> BankRecordDefault:
    if value in BANK_RECORD_DEFAULT_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {BANK_RECORD_DEFAULT_VALUES!r}"
    )
