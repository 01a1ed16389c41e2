from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.service_input_global_parameters import ServiceInputGlobalParameters
    from ..models.service_input_inputs import ServiceInputInputs


T = TypeVar("T", bound="ServiceInput")


@_attrs_define
class ServiceInput:
    """
    Example:
        {'Inputs': {'data': [{'age': 57, 'job': 'technician', 'marital': 'married', 'education': 'high.school',
            'default': 'no', 'housing': 'no', 'loan': 'yes', 'contact': 'cellular', 'month': 'may', 'day_of_week': 'mon',
            'duration': 371, 'campaign': 1, 'pdays': 999, 'previous': 1, 'poutcome': 'failure', 'emp.var.rate': -1.8,
            'cons.price.idx': 92.893, 'cons.conf.idx': -46.2, 'euribor3m': 1.299, 'nr.employed': 5099.1}]},
            'GlobalParameters': {'method': 'predict'}}

    Attributes:
        inputs (ServiceInputInputs):
        global_parameters (ServiceInputGlobalParameters | Unset): Optional; leaving it out means predict. When sent it
            must hold method: an empty object makes the scoring script fail with 500.
    """

    inputs: ServiceInputInputs
    global_parameters: ServiceInputGlobalParameters | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        inputs = self.inputs.to_dict()

        global_parameters: dict[str, Any] | Unset = UNSET
        if not isinstance(self.global_parameters, Unset):
            global_parameters = self.global_parameters.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "Inputs": inputs,
            }
        )
        if global_parameters is not UNSET:
            field_dict["GlobalParameters"] = global_parameters

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.service_input_global_parameters import (
            ServiceInputGlobalParameters,
        )
        from ..models.service_input_inputs import ServiceInputInputs

        d = dict(src_dict)
        inputs = ServiceInputInputs.from_dict(d.pop("Inputs"))

        _global_parameters = d.pop("GlobalParameters", UNSET)
        global_parameters: ServiceInputGlobalParameters | Unset
        if isinstance(_global_parameters, Unset):
            global_parameters = UNSET
        else:
            global_parameters = ServiceInputGlobalParameters.from_dict(
                _global_parameters
            )

        service_input = cls(
            inputs=inputs,
            global_parameters=global_parameters,
        )

        service_input.additional_properties = d
        return service_input

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
