from typing import Literal

ServiceInputGlobalParametersMethod = Literal["predict", "predict_proba"]

SERVICE_INPUT_GLOBAL_PARAMETERS_METHOD_VALUES: set[
    ServiceInputGlobalParametersMethod
] = {
    "predict",
    "predict_proba",
}


def check_service_input_global_parameters_method(
    value: str,
) -> ServiceInputGlobalParametersMethod:
    if value in SERVICE_INPUT_GLOBAL_PARAMETERS_METHOD_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {SERVICE_INPUT_GLOBAL_PARAMETERS_METHOD_VALUES!r}"
    )
