"""Flap damping for nodes, RFC 2439 in spirit. Pure: states in, states out, time passed in.

The seed's finding: a heavily loaded node falling in and out of Ready keeps being put back into the ECMP set and
hurts traffic every time. Each Ready loss adds `penalty`; the penalty halves every `half_life`; above `suppress` the
node stops announcing and stays withdrawn until the penalty decays below `reuse`. The penalty is capped so that a
node that stopped flapping is back within `max_suppress` at the latest.

Defaults: a loss costs 1000, suppress at 2500 (the third loss in quick succession), reuse below 750, half-life 30 s,
at most 5 minutes of suppression after the last loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class DampingConfig:
    penalty: float = 1000.0
    suppress: float = 2500.0
    reuse: float = 750.0
    half_life: float = 30.0
    max_suppress: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.reuse < self.suppress:
            raise ValueError("damping needs 0 < reuse < suppress")
        if self.half_life <= 0 or self.max_suppress <= 0 or self.penalty <= 0:
            raise ValueError("damping needs a positive penalty, half-life and max-suppress")

    @property
    def ceiling(self) -> float:
        """The most penalty can reach: what decays to `reuse` in exactly `max_suppress`."""
        return self.reuse * 2 ** (self.max_suppress / self.half_life)


@dataclass(frozen=True)
class DampingState:
    penalty: float = 0.0
    at: float = 0.0  # when `penalty` was last computed
    suppressed: bool = False
    losses: int = 0


def decayed(state: DampingState, now: float, config: DampingConfig) -> DampingState:
    """The state at `now`: penalty decayed, and released once it fell below `reuse`."""
    elapsed = max(0.0, now - state.at)
    penalty = state.penalty * 0.5 ** (elapsed / config.half_life)
    suppressed = state.suppressed and penalty >= config.reuse
    return replace(state, penalty=penalty, at=now, suppressed=suppressed)


def ready_lost(state: DampingState, now: float, config: DampingConfig) -> DampingState:
    current = decayed(state, now, config)
    penalty = min(current.penalty + config.penalty, config.ceiling)
    return replace(
        current, penalty=penalty, suppressed=current.suppressed or penalty > config.suppress, losses=state.losses + 1
    )


def reusable_at(state: DampingState, config: DampingConfig) -> float | None:
    """When a suppressed node's penalty will have decayed below `reuse` (None if it is not suppressed)."""
    if not state.suppressed or state.penalty < config.reuse:
        return None
    return state.at + config.half_life * math.log2(state.penalty / config.reuse)
