"""Rebuild review/classify/design_model.json from training/real_labelled.jsonl (deterministic)."""
from __future__ import annotations

import sys

from review.classify.model import BUNDLED, build_bundled


def main() -> int:
    m = build_bundled()
    print(f"wrote {BUNDLED.name}: {m.version}, {m.n_train} abstracts, {len(m.vocabulary)} features, "
          f"temperature {m.temperature}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
