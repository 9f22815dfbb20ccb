"""Fill missing Spotify image URLs in a listening-history DuckDB database."""

__version__ = "0.1.0"
