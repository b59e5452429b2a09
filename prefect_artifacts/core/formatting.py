"""Small text formats shared by the surfaces and the Prefect cards."""

from __future__ import annotations

SPARK = "▁▂▃▄▅▆▇█"


def size_text(size: int) -> str:
    """Bytes in decimal units: ``512 B``, ``18.3 MB``."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def sparkline(counts: list[int]) -> str:
    """Histogram counts as block characters: ``▁▃█▅``."""
    top = max(counts) if counts else 0
    if not top:
        return ""
    return "".join(SPARK[min(len(SPARK) - 1, round(c / top * (len(SPARK) - 1)))] for c in counts)
