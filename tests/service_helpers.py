"""Shared by the service's tests: a tokens file, an app, profiles of two municipalities."""

from __future__ import annotations

import copy
import secrets
from pathlib import Path
from typing import Any

import yaml

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: The tutor's own municipality, and another one.
OWN, OTHER = "Анучинский МО", "Артёмовский ГО"


def example(name: str = "young_teacher") -> dict[str, Any]:
    """An example profile (synthetic, no real person) as a dict."""
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))
    return data


def person(pid: str, municipality: str, organization: str = "МБОУ СОШ № 1") -> dict[str, Any]:
    """The young teacher's profile under another id, municipality and organisation."""
    data = copy.deepcopy(example())
    data["id"] = pid
    data["person"]["municipality"] = municipality
    data["person"]["organization"] = organization
    return data


def write_tokens(folder: Path) -> dict[str, str]:
    """A tokens file with one fresh token per role (the tutor's scope: OWN); role -> token."""
    tokens = {
        role: secrets.token_urlsafe(24) for role in ("integrator", "tutor", "analyst", "admin")
    }
    grants = {
        tokens["integrator"]: {"role": "integrator"},
        tokens["tutor"]: {"role": "tutor", "municipalities": [OWN]},
        tokens["analyst"]: {"role": "analyst"},
        tokens["admin"]: {"role": "admin"},
    }
    (folder / "tokens.yaml").write_text(
        yaml.safe_dump({"tokens": grants}, allow_unicode=True), encoding="utf-8"
    )
    return tokens


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of ``token``."""
    return {"Authorization": f"Bearer {token}"}
