"""Where images come from: everything that talks HTTP.

`base` is the one interface (Source, Lineup) the engine knows; `lineup` registers the sources and their order.
One module per source (`api`: the Spotify Web API; `oembed`: Spotify's oEmbed endpoint), over one request loop
(`http`: pacing, the Retry-After gate, retries, `health`: when to give a source up), with `answers` reading
their bodies (only a well-formed answer may say "no image" or "not found"), `images` choosing a picture,
`auth` the access tokens, `proxy` the environment's proxy, `pictures` fetching images for the HTML page.
It imports only the shared modules, never the store, the engine, the reports or the CLI.
"""

BATCH_SIZE = 50  # the most ids the Web API's /tracks and /artists take in one call
SOURCE_NAMES = {"api": "Web API", "oembed": "oEmbed"}  # as the summaries name them
