from typing import Literal

ServiceOutputResultsItemType0 = Literal["no", "yes"]

SERVICE_OUTPUT_RESULTS_ITEM_TYPE_0_VALUES: set[ServiceOutputResultsItemType0] = {
    "no",
    "yes",
}


def check_service_output_results_item_type_0(
    value: str,
) -> ServiceOutputResultsItemType0:
    if value in SERVICE_OUTPUT_RESULTS_ITEM_TYPE_0_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {SERVICE_OUTPUT_RESULTS_ITEM_TYPE_0_VALUES!r}"
    )
