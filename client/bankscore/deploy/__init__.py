"""Deployment assets: the wire generations and the Swagger/OpenAPI documents a deployment ships.

Pure Python: importing it needs neither pandas, numpy nor the inference server.
"""

from bankscore._generations import WireGeneration
from bankscore.deploy._swagger import (
    EXTENSION_KEY,
    SCORING_METHODS,
    SWAGGER2_FILE,
    SWAGGER3_FILE,
    build_openapi3,
    build_swagger2,
    swagger_files,
)

__all__ = [
    "EXTENSION_KEY",
    "SCORING_METHODS",
    "SWAGGER2_FILE",
    "SWAGGER3_FILE",
    "WireGeneration",
    "build_openapi3",
    "build_swagger2",
    "swagger_files",
]
