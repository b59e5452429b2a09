"""Assets served by the package itself, never a CDN: plotly.js (from the installed plotly
package, at a content-addressed URL cached for good) and the lightening of stored plotly HTML."""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ..core.errors import ArtifactNotFoundError

router = APIRouter(include_in_schema=False)
IMMUTABLE = "public, max-age=31536000, immutable"


@lru_cache(maxsize=1)
def plotly_js() -> tuple[bytes, str, str] | None:
    """The installed plotly package's plotly.min.js, its sha256 prefix and full sha256 (no plotly
    import)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    if not path.is_file():
        return None
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    return data, digest[:16], digest


def plotly_url() -> str | None:
    found = plotly_js()
    return f"/assets/plotly-{found[1]}.min.js" if found else None


def light_plot(html: bytes, extra_data: dict[str, Any] | None = None, extra_url: str = "") -> bytes:
    """Stored plotly HTML with its plotly.js (~4.8 MB) loaded from :func:`plotly_url`, which the
    browser fetches once and caches: inlined copies are replaced by a script tag, and plots that
    load it from their extra data (``extra/plotly.min.js``) point at the package's copy when the
    bytes are the same, else at the stored copy under ``extra_url``. HTML that inlines another
    plotly.js build is returned unchanged (it still renders)."""
    found = plotly_js()
    loader = b'src="extra/plotly.min.js"'
    if loader in html:
        stored = (extra_data or {}).get("plotly.min.js")
        same = found is not None and stored is not None and stored.hash.startswith(found[2])
        target = plotly_url() if same else f"{extra_url}plotly.min.js"
        return html.replace(loader, f'src="{target}"'.encode())
    if found is None:
        return html
    bundle, digest, _ = found
    at = html.find(bundle)
    if at < 0:
        return html
    opening = html.rfind(b"<script", 0, at)
    closing = html.find(b"</script>", at + len(bundle))
    if opening < 0 or closing < 0 or html.find(b">", opening) != at - 1:
        return html
    tag = f'<script charset="utf-8" src="/assets/plotly-{digest}.min.js"></script>'.encode()
    return html[:opening] + tag + html[closing + len(b"</script>") :]


@router.get("/assets/plotly-{digest}.min.js")
def plotly_asset(digest: str) -> Response:
    found = plotly_js()
    if found is None or found[1] != digest:
        raise ArtifactNotFoundError(
            f"no plotly.js {digest!r} here; this server has {found[1] if found else 'none'}"
        )
    return Response(
        found[0],
        media_type="text/javascript",
        headers={"Cache-Control": IMMUTABLE, "ETag": f'"{digest}"'},
    )
