from typing import Literal

BankRecordHousing = Literal["no", "unknown", "yes"]

BANK_RECORD_HOUSING_VALUES: set[BankRecordHousing] = {
    "no",
    "unknown",
    "yes",
}


def check_bank_record_housing(value: str) -> BankRecordHousing:
    if value in BANK_RECORD_HOUSING_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {BANK_RECORD_HOUSING_VALUES!r}"
    )
