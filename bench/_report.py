"""Shared by the benchmarks: print one JSON line per figure and merge the figures into bench/results.json."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results.json")


def figure(name: str, value: float, unit: str, **conditions: Any) -> dict[str, Any]:
    line = {"name": name, "value": round(value, 6), "unit": unit, "conditions": conditions}
    print(json.dumps(line), flush=True)
    return line


def save(bench: str, figures: list[dict[str, Any]]) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[bench] = {"machine": f"{platform.machine()} {platform.python_implementation()} "
                      f"{platform.python_version()}", "figures": figures}  # fmt: skip
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
