"""How the emulator behaves, and what it records of each request."""

from __future__ import annotations

from dataclasses import dataclass, field

from standin.oembed import OEmbedConfig

Outcome = int | str | tuple[int, int | None]


@dataclass
class EmulatorConfig:
    """How the emulator behaves; read at request time, so a test may change it while the server runs."""

    client_id: str = "emulator-client-id"
    client_secret: str = "emulator-client-secret"
    dev_mode: bool = False  # batch endpoints answer 403, some fields disappear
    latency: float = 0.0  # mean seconds added before each API response (not the token endpoint)
    latency_jitter: float = 0.0  # fraction: uniform in [latency*(1-j), latency*(1+j)]
    rate_limit: int | None = None  # max API requests per rolling window; None = unlimited
    rate_window: float = 30.0  # seconds
    penalty_extension: float = 1.0  # seconds a request made during a Retry-After adds to it
    quota: int | None = None  # total API requests allowed, then 429 QUOTA_EXCEEDED
    quota_retry_after: int = 79_892  # seconds, in the quota 429's Retry-After
    error_rate: float = 0.0  # share of API requests answered with a random 500/502/503/504
    drop_rate: float = 0.0  # share of API requests whose connection is closed with no response
    token_ttl: int = 3600  # expires_in, and the real lifetime of issued tokens
    seed: int = 0  # for the random choices above
    retry_after_date: bool = False  # Retry-After as an HTTP-date (RFC 9110 allows both forms)
    token_fault: str | None = None  # a broken token endpoint: one of accounts.TOKEN_FAULTS
    token_fault_count: int | None = None  # how many token answers get it (None: all), then good tokens
    fault_mode: str | None = None  # a broken answer from standin.faults, for API calls that succeed
    fault_count: int | None = None  # how many answers get it (None: all)
    fault_endpoints: tuple[str, ...] = ()  # which endpoints (empty: all)
    oembed: OEmbedConfig = field(default_factory=OEmbedConfig)
    local_images: bool = False  # image URLs on this server's own /image/ path, so pages can load them offline


@dataclass(frozen=True)
class Received:
    """One request that reached the server."""

    at: float  # time.monotonic() on arrival
    method: str
    path: str
    endpoint: str  # token, tracks, track, artists, artist, albums, album, album_tracks, other
    ids: tuple[str, ...]  # the path id or the ids= list; () for the token endpoint
    status: int  # status answered; 0 for a dropped connection
    in_penalty: bool  # arrived while a Retry-After the emulator had issued was still running
    token: str | None  # bearer token presented
