from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.bank_record_contact import BankRecordContact, check_bank_record_contact
from ..models.bank_record_day_of_week import (
    BankRecordDayOfWeek,
    check_bank_record_day_of_week,
)
from ..models.bank_record_default import BankRecordDefault, check_bank_record_default
from ..models.bank_record_education import (
    BankRecordEducation,
    check_bank_record_education,
)
from ..models.bank_record_housing import BankRecordHousing, check_bank_record_housing
from ..models.bank_record_job import BankRecordJob, check_bank_record_job
from ..models.bank_record_loan import BankRecordLoan, check_bank_record_loan
from ..models.bank_record_marital import BankRecordMarital, check_bank_record_marital
from ..models.bank_record_month import BankRecordMonth, check_bank_record_month
from ..models.bank_record_poutcome import BankRecordPoutcome, check_bank_record_poutcome

T = TypeVar("T", bound="BankRecord")


@_attrs_define
class BankRecord:
    """One client, keyed by wire name. Every feature is required and no other key is allowed.

    Attributes:
        age (int): Age of the client, in years.
        job (BankRecordJob): Type of job.
        marital (BankRecordMarital): Marital status ('divorced' means divorced or widowed).
        education (BankRecordEducation): Highest education.
        default (BankRecordDefault): Has credit in default?
        housing (BankRecordHousing): Has a housing loan?
        loan (BankRecordLoan): Has a personal loan?
        contact (BankRecordContact): Contact communication type.
        month (BankRecordMonth): Month of the year of the last contact.
        day_of_week (BankRecordDayOfWeek): Weekday of the last contact.
        duration (int): Duration of the last contact, in seconds. The duration of the call is only known after the call,
            when the outcome y is known too, so it leaks the label: the data dictionary says to keep it for benchmarks only
            and to drop it for a realistic model (train with --exclude duration).
        campaign (int): Contacts made during this campaign for this client, the last one included.
        pdays (int): Days since the client was last contacted in a previous campaign (999: never contacted).
        previous (int): Contacts made before this campaign for this client.
        poutcome (BankRecordPoutcome): Outcome of the previous marketing campaign.
        emp_var_rate (float): Employment variation rate, quarterly indicator.
        cons_price_idx (float): Consumer price index, monthly indicator.
        cons_conf_idx (float): Consumer confidence index, monthly indicator.
        euribor3m (float): Euribor 3-month rate, daily indicator.
        nr_employed (float): Number of employees (thousands), quarterly indicator.
    """

    age: int
    job: BankRecordJob
    marital: BankRecordMarital
    education: BankRecordEducation
    default: BankRecordDefault
    housing: BankRecordHousing
    loan: BankRecordLoan
    contact: BankRecordContact
    month: BankRecordMonth
    day_of_week: BankRecordDayOfWeek
    duration: int
    campaign: int
    pdays: int
    previous: int
    poutcome: BankRecordPoutcome
    emp_var_rate: float
    cons_price_idx: float
    cons_conf_idx: float
    euribor3m: float
    nr_employed: float

    def to_dict(self) -> dict[str, Any]:
        age = self.age

        job: str = self.job

        marital: str = self.marital

        education: str = self.education

        default: str = self.default

        housing: str = self.housing

        loan: str = self.loan

        contact: str = self.contact

        month: str = self.month

        day_of_week: str = self.day_of_week

        duration = self.duration

        campaign = self.campaign

        pdays = self.pdays

        previous = self.previous

        poutcome: str = self.poutcome

        emp_var_rate = self.emp_var_rate

        cons_price_idx = self.cons_price_idx

        cons_conf_idx = self.cons_conf_idx

        euribor3m = self.euribor3m

        nr_employed = self.nr_employed

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "age": age,
                "job": job,
                "marital": marital,
                "education": education,
                "default": default,
                "housing": housing,
                "loan": loan,
                "contact": contact,
                "month": month,
                "day_of_week": day_of_week,
                "duration": duration,
                "campaign": campaign,
                "pdays": pdays,
                "previous": previous,
                "poutcome": poutcome,
                "emp.var.rate": emp_var_rate,
                "cons.price.idx": cons_price_idx,
                "cons.conf.idx": cons_conf_idx,
                "euribor3m": euribor3m,
                "nr.employed": nr_employed,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        age = d.pop("age")

        job = check_bank_record_job(d.pop("job"))

        marital = check_bank_record_marital(d.pop("marital"))

        education = check_bank_record_education(d.pop("education"))

        default = check_bank_record_default(d.pop("default"))

        housing = check_bank_record_housing(d.pop("housing"))

        loan = check_bank_record_loan(d.pop("loan"))

        contact = check_bank_record_contact(d.pop("contact"))

        month = check_bank_record_month(d.pop("month"))

        day_of_week = check_bank_record_day_of_week(d.pop("day_of_week"))

        duration = d.pop("duration")

        campaign = d.pop("campaign")

        pdays = d.pop("pdays")

        previous = d.pop("previous")

        poutcome = check_bank_record_poutcome(d.pop("poutcome"))

        emp_var_rate = d.pop("emp.var.rate")

        cons_price_idx = d.pop("cons.price.idx")

        cons_conf_idx = d.pop("cons.conf.idx")

        euribor3m = d.pop("euribor3m")

        nr_employed = d.pop("nr.employed")

        bank_record = cls(
            age=age,
            job=job,
            marital=marital,
            education=education,
            default=default,
            housing=housing,
            loan=loan,
            contact=contact,
            month=month,
            day_of_week=day_of_week,
            duration=duration,
            campaign=campaign,
            pdays=pdays,
            previous=previous,
            poutcome=poutcome,
            emp_var_rate=emp_var_rate,
            cons_price_idx=cons_price_idx,
            cons_conf_idx=cons_conf_idx,
            euribor3m=euribor3m,
            nr_employed=nr_employed,
        )

        return bank_record
