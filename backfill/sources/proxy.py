"""Which proxy a request goes through: HTTPS_PROXY / HTTP_PROXY / NO_PROXY, looked up once per run.

aiohttp's `trust_env=True` makes the same lookup, ~/.netrc included, on a worker thread for every request:
profiled at two thread hops per request, a tenth of the tool's CPU at a few hundred requests a second. The
standard library's reading of the variables (lower case wins over upper case, NO_PROXY by host and domain) is
the one used here, through its public functions.
"""

from __future__ import annotations

import base64
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit


def proxy_for(url: str) -> dict[str, Any]:
    """Keyword arguments for aiohttp requests to `url`: the proxy the environment names for it, if any (its
    user and password, if the proxy URL has them, as a Proxy-Authorization header)."""
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.netloc):
        return {}
    given = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if given.username is None:
        return {"proxy": urlunsplit(given)}
    credentials = f"{unquote(given.username)}:{unquote(given.password or '')}".encode()
    auth = {"Proxy-Authorization": "Basic " + base64.b64encode(credentials).decode("ascii")}
    host = given.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{given.port}" if given.port else ""
    return {"proxy": urlunsplit(given._replace(netloc=netloc)), "proxy_headers": auth}
