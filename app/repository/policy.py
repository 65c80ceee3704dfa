"""Which versions of a model serve: Triton's version policies, written as one short string.

    all          every version folder in the repository (the default)
    latest:N     the N highest version numbers
    1,3          exactly these versions (those present)

`SEQSERVE_VERSION_POLICY` sets it for every model and `SEQSERVE_VERSION_POLICIES` (a JSON object,
model name -> policy) per model.
"""

from __future__ import annotations

from dataclasses import dataclass


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class VersionPolicy:
    latest: int | None = None  # keep the N newest
    versions: frozenset[int] | None = None  # keep exactly these

    @classmethod
    def parse(cls, text: str) -> VersionPolicy:
        text = text.strip().lower()
        if text == "all":
            return cls()
        if text.startswith("latest:"):
            count = text.removeprefix("latest:").strip()
            if not (count.isascii() and count.isdigit()) or int(count) < 1:
                raise PolicyError(f"version policy {text!r}: latest:N needs an integer N >= 1")
            return cls(latest=int(count))
        parts = [part.strip() for part in text.split(",")]
        if not parts or not all(part.isascii() and part.isdigit() and int(part) >= 1 for part in parts):
            raise PolicyError(f"version policy {text!r}: expected 'all', 'latest:N' or versions like '1,3'")
        return cls(versions=frozenset(int(part) for part in parts))

    def select(self, available: list[int]) -> list[int]:
        """The versions to serve out of those in the repository, ascending."""
        ordered = sorted(available)
        if self.latest is not None:
            return ordered[-self.latest:]
        if self.versions is not None:
            return [v for v in ordered if v in self.versions]
        return ordered

    def __str__(self) -> str:
        if self.latest is not None:
            return f"latest:{self.latest}"
        if self.versions is not None:
            return ",".join(str(v) for v in sorted(self.versions))
        return "all"
