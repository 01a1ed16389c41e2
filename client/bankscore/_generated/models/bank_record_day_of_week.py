from typing import Literal

BankRecordDayOfWeek = Literal["fri", "mon", "thu", "tue", "wed"]

BANK_RECORD_DAY_OF_WEEK_VALUES: set[BankRecordDayOfWeek] = {
    "fri",
    "mon",
    "thu",
    "tue",
    "wed",
}


def check_bank_record_day_of_week(value: str) -> BankRecordDayOfWeek:
    if value in BANK_RECORD_DAY_OF_WEEK_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {BANK_RECORD_DAY_OF_WEEK_VALUES!r}"
    )
