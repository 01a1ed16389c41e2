"""Contains all the data models used in inputs/outputs"""

from .bank_record import BankRecord
from .bank_record_contact import BankRecordContact
from .bank_record_day_of_week import BankRecordDayOfWeek
from .bank_record_default import BankRecordDefault
from .bank_record_education import BankRecordEducation
from .bank_record_housing import BankRecordHousing
from .bank_record_job import BankRecordJob
from .bank_record_loan import BankRecordLoan
from .bank_record_marital import BankRecordMarital
from .bank_record_month import BankRecordMonth
from .bank_record_poutcome import BankRecordPoutcome
from .error_response import ErrorResponse
from .get_swagger_spec_version import GetSwaggerSpecVersion
from .service_input import ServiceInput
from .service_input_global_parameters import ServiceInputGlobalParameters
from .service_input_global_parameters_method import ServiceInputGlobalParametersMethod
from .service_input_inputs import ServiceInputInputs
from .service_output import ServiceOutput
from .service_output_results_item_type_0 import ServiceOutputResultsItemType0

__all__ = (
    "BankRecord",
    "BankRecordContact",
    "BankRecordDayOfWeek",
    "BankRecordDefault",
    "BankRecordEducation",
    "BankRecordHousing",
    "BankRecordJob",
    "BankRecordLoan",
    "BankRecordMarital",
    "BankRecordMonth",
    "BankRecordPoutcome",
    "ErrorResponse",
    "GetSwaggerSpecVersion",
    "ServiceInput",
    "ServiceInputGlobalParameters",
    "ServiceInputGlobalParametersMethod",
    "ServiceInputInputs",
    "ServiceOutput",
    "ServiceOutputResultsItemType0",
)
