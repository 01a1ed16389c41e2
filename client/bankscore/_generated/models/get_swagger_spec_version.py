from typing import Literal

GetSwaggerSpecVersion = Literal[2, 3]

GET_SWAGGER_SPEC_VERSION_VALUES: set[GetSwaggerSpecVersion] = {
    2,
    3,
}


def check_get_swagger_spec_version(value: int) -> GetSwaggerSpecVersion:
    if value in GET_SWAGGER_SPEC_VERSION_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {GET_SWAGGER_SPEC_VERSION_VALUES!r}"
    )
