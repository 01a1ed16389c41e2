from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.service_output_results_item_type_0 import (
    ServiceOutputResultsItemType0,
    check_service_output_results_item_type_0,
)

T = TypeVar("T", bound="ServiceOutput")


@_attrs_define
class ServiceOutput:
    """
    Example:
        {'Results': ['no']}

    Attributes:
        results (list[list[float] | ServiceOutputResultsItemType0]): One item per record, in order: a label ("no" or
            "yes") with method=predict, or the class probabilities [P(no), P(yes)] with method=predict_proba.
    """

    results: list[list[float] | ServiceOutputResultsItemType0]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        results = []
        for results_item_data in self.results:
            results_item: list[float] | str
            if isinstance(results_item_data, str):
                results_item = results_item_data
            else:
                results_item = results_item_data

            results.append(results_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "Results": results,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        results = []
        _results = d.pop("Results")
        for results_item_data in _results:

            def _parse_results_item(
                data: object,
            ) -> list[float] | ServiceOutputResultsItemType0:
                try:
                    if not isinstance(data, str):
                        raise TypeError()
                    results_item_type_0 = check_service_output_results_item_type_0(data)

                    return results_item_type_0
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                if not isinstance(data, list):
                    raise TypeError()
                results_item_type_1 = cast(list[float], data)

                return results_item_type_1

            results_item = _parse_results_item(results_item_data)

            results.append(results_item)

        service_output = cls(
            results=results,
        )

        service_output.additional_properties = d
        return service_output

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
