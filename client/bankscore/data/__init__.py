"""Bank Marketing data: the shipped training set, user CSVs checked against the feature contract, profiles.

>>> from bankscore.data import load_training_data, profile
>>> data = load_training_data()
>>> len(data), profile(data).positive_rate
"""

from __future__ import annotations

from importlib import resources

from bankscore.data._csv import MAX_ROWS_SHOWN, load_csv, parse_csv_bytes
from bankscore.data._dataset import Dataset, Value
from bankscore.data._profile import CategoryProfile, NumericProfile, Profile, profile
from bankscore.data._registry import DEFAULT_DATASET_NAME, DatasetVersion, get_dataset, list_datasets, register_dataset

__all__ = [
    "DEFAULT_DATASET_NAME",
    "MAX_ROWS_SHOWN",
    "TRAINING_DATA_NAME",
    "CategoryProfile",
    "Dataset",
    "DatasetVersion",
    "NumericProfile",
    "Profile",
    "Value",
    "data_license",
    "get_dataset",
    "list_datasets",
    "load_csv",
    "load_training_data",
    "parse_csv_bytes",
    "profile",
    "register_dataset",
]

TRAINING_DATA_NAME = "bankmarketing_train.csv"
_PACKAGE = "bankscore.data"


def load_training_data() -> Dataset:
    """The Bank Marketing training set that ships inside bankscore (32,950 rows, label included).

    Read from the installed package, never from the network. Its licence: ``data_license()``.
    """
    import gzip

    raw = gzip.decompress(resources.files(_PACKAGE).joinpath(TRAINING_DATA_NAME + ".gz").read_bytes())
    return parse_csv_bytes(raw, source=f"bankscore:{TRAINING_DATA_NAME}", require_label=True)


def data_license() -> str:
    """The licence (CC BY 4.0) and citation of the shipped data."""
    return resources.files(_PACKAGE).joinpath("DATA-LICENSE.md").read_text(encoding="utf-8")
