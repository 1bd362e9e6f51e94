"""Regenerate country_zones.json from the IANA time zone database's zone.tab (ISO 3166 code ->
the zones of that country). Run by hand when tzdata changes: python -m core.policies.make_country_zones [zone.tab]."""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).with_name("country_zones.json")


def parse(text: str) -> dict[str, list[str]]:
    zones: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        country, _coordinates, zone = line.split("\t")[:3]
        zones.setdefault(country, []).append(zone)
    return {c: sorted(z) for c, z in sorted(zones.items())}


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/zoneinfo/zone.tab")
    rows = ",\n".join(f"  {json.dumps(c)}: {json.dumps(z)}" for c, z in parse(source.read_text()).items())
    OUT.write_text('{"source": "IANA tzdata zone.tab", "zones": {\n' + rows + "\n}}\n")
