from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.service_input_global_parameters_method import (
    ServiceInputGlobalParametersMethod,
    check_service_input_global_parameters_method,
)

T = TypeVar("T", bound="ServiceInputGlobalParameters")


@_attrs_define
class ServiceInputGlobalParameters:
    """Optional; leaving it out means predict. When sent it must hold method: an empty object makes the scoring script fail
    with 500.

        Attributes:
            method (ServiceInputGlobalParametersMethod): predict returns labels, predict_proba returns [P(no), P(yes)] per
                record.
    """

    method: ServiceInputGlobalParametersMethod
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        method: str = self.method

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "method": method,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        method = check_service_input_global_parameters_method(d.pop("method"))

        service_input_global_parameters = cls(
            method=method,
        )

        service_input_global_parameters.additional_properties = d
        return service_input_global_parameters

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
