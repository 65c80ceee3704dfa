"""Version policies: which versions of a model serve."""

from __future__ import annotations

import pytest

from app.repository.policy import PolicyError, VersionPolicy
from app.settings import Settings


@pytest.mark.parametrize(("text", "available", "selected"), [
    ("all", [3, 1, 2], [1, 2, 3]),
    ("latest:1", [3, 1, 2], [3]),
    ("latest:2", [1, 10, 9], [9, 10]),
    ("latest:5", [1, 2], [1, 2]),
    ("1,3", [1, 2, 3], [1, 3]),
    (" 2 ", [1, 2, 3], [2]),
    ("4", [1, 2], []),
])
def test_policy_selects(text: str, available: list[int], selected: list[int]) -> None:
    assert VersionPolicy.parse(text).select(available) == selected


@pytest.mark.parametrize("text", ["", "latest", "latest:0", "latest:-1", "newest", "1,,2", "0", "1.5", "latest:x"])
def test_bad_policies_are_refused(text: str) -> None:
    with pytest.raises(PolicyError):
        VersionPolicy.parse(text)


def test_settings_validate_policies_and_apply_per_model_overrides() -> None:
    settings = Settings(version_policy="latest:1", version_policies={"dates": "all", "digit": "1,2"})
    assert str(settings.policy_for("sine")) == "latest:1"
    assert str(settings.policy_for("dates")) == "all"
    assert str(settings.policy_for("digit")) == "1,2"
    with pytest.raises(ValueError, match="latest:N"):
        Settings(version_policies={"dates": "latest:0"})
