from typing import Literal

BankRecordContact = Literal["cellular", "telephone"]

BANK_RECORD_CONTACT_VALUES: set[BankRecordContact] = {
    "cellular",
    "telephone",
}


def check_bank_record_contact(value: str) -> BankRecordContact:
    if value in BANK_RECORD_CONTACT_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {BANK_RECORD_CONTACT_VALUES!r}"
    )
