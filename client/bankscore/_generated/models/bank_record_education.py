from typing import Literal

BankRecordEducation = Literal[
    "basic.4y",
    "basic.6y",
    "basic.9y",
    "high.school",
    "illiterate",
    "professional.course",
    "university.degree",
    "unknown",
]

BANK_RECORD_EDUCATION_VALUES: set[BankRecordEducation] = {
    "basic.4y",
    "basic.6y",
    "basic.9y",
    "high.school",
    "illiterate",
    "professional.course",
    "university.degree",
    "unknown",
}


def check_bank_record_education(value: str) -> BankRecordEducation:
    if value in BANK_RECORD_EDUCATION_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {BANK_RECORD_EDUCATION_VALUES!r}"
    )
