from typing import Literal

BankRecordLoan = Literal["no", "unknown", "yes"]

BANK_RECORD_LOAN_VALUES: set[BankRecordLoan] = {
    "no",
    "unknown",
    "yes",
}


def check_bank_record_loan(value: str) -> BankRecordLoan:
    if value in BANK_RECORD_LOAN_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {BANK_RECORD_LOAN_VALUES!r}"
    )
