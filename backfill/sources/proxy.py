"""Which proxy a request goes through: HTTPS_PROXY / HTTP_PROXY / NO_PROXY, looked up once per run.

aiohttp's `trust_env=True` makes the same lookup, ~/.netrc included, on a worker thread for every request:
profiled at two thread hops per request, a tenth of the tool's CPU at a few hundred requests a second.
"""

from __future__ import annotations

from typing import Any

from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL


def proxy_for(url: str) -> dict[str, Any]:
    """Keyword arguments for aiohttp requests to `url`: the proxy the environment names for it, if any."""
    try:
        proxy, auth = get_env_proxy_for_url(URL(url))
    except LookupError:  # no proxy for this scheme, or the host is in NO_PROXY
        return {}
    return {"proxy": proxy, "proxy_auth": auth}
