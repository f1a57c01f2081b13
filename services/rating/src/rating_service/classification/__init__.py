"""The classifier: report facts + catalog → an explainable decision (大信办字〔2020〕4号, DESIGN §2)."""

from rating_service.classification.classifier import (
    ClassificationError,
    Decision,
    EvidenceFacts,
    ExemptionFacts,
    PreListingNotice,
    ReportFacts,
    SubjectTypeMismatchError,
    UnknownBehaviorError,
    classify,
)

__all__ = [
    "ClassificationError",
    "Decision",
    "EvidenceFacts",
    "ExemptionFacts",
    "PreListingNotice",
    "ReportFacts",
    "SubjectTypeMismatchError",
    "UnknownBehaviorError",
    "classify",
]
