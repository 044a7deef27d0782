"""The paper's taxonomy of a judged prediction: one definition used by the CLI, the review app,
exports and the report.

verdict:     correct / wrong / unclear (is the model's top-1 a valid label of the image?)
problematic: the original label is wrong, or the image should not be in the set
severity:    major / minor / borderline (borderline is its own value, reported as minor)
category:    fine-grained / fine-grained with an out-of-vocabulary object / spurious correlation /
             non-prototypical
A correct "mistake" (verdict correct) adds the prediction to the image's multi-labels.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from bagel.errors import BagelError

VERDICTS = ("correct", "wrong", "unclear")
SEVERITIES = ("major", "minor", "borderline")
CATEGORIES = ("fine-grained", "fine-grained-oov", "spurious", "non-prototypical")

# Strings of the published mistakes schema (vit3b_mistakes.json), used when writing it.
PUBLISHED_CATEGORY = {"fine-grained": "Fine-grained error", "fine-grained-oov": "Fine-grained error with OOV",
                      "spurious": "Spurious Correlation", "non-prototypical": "Non-prototypical"}
PUBLISHED_SEVERITY = {"major": "Major", "minor": "Minor", "borderline": "Borderline"}
CATEGORY_TITLES = {"fine-grained": "fine-grained", "fine-grained-oov": "fine-grained with OOV",
                   "spurious": "spurious correlation", "non-prototypical": "non-prototypical"}


def parse_category(text: str, source: str = "category") -> str:
    """Map a category string to its taxonomy value by meaning: published files spell categories in
    several ways ("Fine-grained error", "Fine-grained with Multilabel Options", "fine_grained_oov")."""
    t = re.sub(r"[^a-z]+", " ", str(text).lower()).strip()
    if t.startswith("fine grained") or t.startswith("finegrained") or t == "fine grained":
        return "fine-grained-oov" if re.search(r"\boov\b|out of vocabulary", t) else "fine-grained"
    if "spurious" in t:
        return "spurious"
    if t.startswith("non prototypical") or t.startswith("nonprototypical") or "atypical" in t:
        return "non-prototypical"
    raise BagelError(f"{source}: unknown mistake category {text!r} (expected fine-grained, fine-grained with OOV, spurious correlation or non-prototypical)")


def parse_severity(text: str, source: str = "severity") -> str:
    t = str(text).strip().lower()
    if t in SEVERITIES:
        return t
    raise BagelError(f"{source}: unknown severity {text!r} (expected Major, Minor or Borderline)")


def parse_verdict(text: str, source: str = "verdict") -> str:
    t = str(text).strip().lower()
    if t in VERDICTS:
        return t
    raise BagelError(f"{source}: unknown verdict {text!r} (expected correct, wrong or unclear)")


def reported_severity(severity: str) -> str:
    """Borderline is reported as minor, as in the paper."""
    return "minor" if severity == "borderline" else severity


@dataclass
class Judgement:
    """One reviewer's judgement of one prediction on one image."""

    verdict: str | None = None
    problematic: bool = False
    severity: str | None = None
    category: str | None = None
    note: str = ""

    def __post_init__(self):
        if self.verdict is not None:
            self.verdict = parse_verdict(self.verdict)
        if self.severity is not None:
            self.severity = parse_severity(self.severity)
        if self.category is not None:
            self.category = parse_category(self.category)

    def to_dict(self) -> dict:
        return asdict(self)

    def published(self, top_prediction: int) -> dict:
        """This judgement in the published mistakes schema (wrong predictions only carry one)."""
        return {"top_prediction": int(top_prediction),
                "failure category": PUBLISHED_CATEGORY.get(self.category) if self.category else None,
                "failure severity": PUBLISHED_SEVERITY.get(self.severity) if self.severity else None}
