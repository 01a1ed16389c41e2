from typing import Literal

BankRecordMonth = Literal[
    "apr", "aug", "dec", "feb", "jan", "jul", "jun", "mar", "may", "nov", "oct", "sep"
]

BANK_RECORD_MONTH_VALUES: set[BankRecordMonth] = {
    "apr",
    "aug",
    "dec",
    "feb",
    "jan",
    "jul",
    "jun",
    "mar",
    "may",
    "nov",
    "oct",
    "sep",
}


def check_bank_record_month(value: str) -> BankRecordMonth:
    if value in BANK_RECORD_MONTH_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {BANK_RECORD_MONTH_VALUES!r}"
    )
