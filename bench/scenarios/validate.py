"""``validate``: the whole validation pipeline (``validate_text``) on the
generated 1,000-state document of bench/validate.py, beside ruamel's
round-trip load of the same text, interleaved. Target: < 0.5 s.
"""

from __future__ import annotations

import io
import time
from typing import Any

import validate as validate_bench
from measure import Options, interleave, median, ratio, summary, target
from ruamel.yaml import YAML

NAME = "validate"
KEYS = ("total_s", "ruamel_load_s")


def run(options: Options) -> dict[str, Any]:
    states = options.size("states", 1000, 200)
    reps = options.repetitions(5, 2)
    buffer = io.StringIO()
    YAML().dump(validate_bench.document(states), buffer)
    text = buffer.getvalue()
    from wfdsl.dsl import api

    def whole() -> dict[str, float]:
        # compile_text caches by text; a cold run is what a new document costs.
        cache_clear = getattr(getattr(api, "_compile_cached", None), "cache_clear", None)
        if cache_clear is not None:
            cache_clear()
        started = time.perf_counter()
        api.validate_text(text, "bench.yaml")
        return {"seconds": time.perf_counter() - started}

    def ruamel() -> dict[str, float]:
        started = time.perf_counter()
        YAML().load(text)
        return {"seconds": time.perf_counter() - started}

    series = interleave(reps, {"validate_text": whole, "ruamel_load": ruamel})
    total = median(series["validate_text.seconds"])
    load = median(series["ruamel_load.seconds"])
    return {
        "total_s": total,
        "ruamel_load_s": load,
        "ratio_vs_ruamel_load": ratio(total, load),
        "sizes": {"states": states, "characters": len(text), "reps": reps},
        "series": {name: summary(values) for name, values in series.items()},
        "targets": {"total": target(total, below=0.5, text="1,000-state document in < 0.5 s")},
    }
