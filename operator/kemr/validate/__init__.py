"""Pure validation of specs beyond what the CRD schema says: `validate_cluster`, `validate_step`.

Each returns a list of `ValidationIssue(field, message)`; empty means valid. No I/O, no mutation.
"""

from kemr.applications.base import OwnedKey
from kemr.validate.cluster import validate_cluster
from kemr.validate.issues import ValidationIssue
from kemr.validate.owned import CONFIGURATION_OWNED, POD_OWNED_FIELDS, STEP_CONF_OWNED
from kemr.validate.step import validate_step

__all__ = [
    "CONFIGURATION_OWNED",
    "POD_OWNED_FIELDS",
    "STEP_CONF_OWNED",
    "OwnedKey",
    "ValidationIssue",
    "validate_cluster",
    "validate_step",
]
