"""Level thresholds (schema-notes defect 3): level 1 from 0 XP, level n+1 once total XP reaches
1000·(2ⁿ - 1), so levels start at 0, 1000, 3000, 7000, 15000, …

The level of a stored user is computed by SQL `public.calculate_user_level` (a trigger keeps
`user_profiles.current_level` in step with `total_xp`); this module is its inverse, used to tell a
client where the next level starts, and to decide whether an award crossed a level.
"""

from __future__ import annotations

XP_BASE = 1000


def xp_to_reach(level: int) -> int:
    """Total XP at which `level` starts (level ≥ 1)."""
    if level < 1:
        raise ValueError("levels start at 1")
    return XP_BASE * ((1 << (level - 1)) - 1)


def level_change(before: int, after: int) -> dict[str, int] | None:
    """The `level.up` payload when an award moved the level, else None."""
    return {"from": before, "to": after} if after != before else None
