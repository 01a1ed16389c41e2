from typing import Literal

BankRecordJob = Literal[
    "admin.",
    "blue-collar",
    "entrepreneur",
    "housemaid",
    "management",
    "retired",
    "self-employed",
    "services",
    "student",
    "technician",
    "unemployed",
    "unknown",
]

BANK_RECORD_JOB_VALUES: set[BankRecordJob] = {
    "admin.",
    "blue-collar",
    "entrepreneur",
    "housemaid",
    "management",
    "retired",
    "self-employed",
    "services",
    "student",
    "technician",
    "unemployed",
    "unknown",
}


def check_bank_record_job(value: str) -> BankRecordJob:
    if value in BANK_RECORD_JOB_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {BANK_RECORD_JOB_VALUES!r}"
    )
