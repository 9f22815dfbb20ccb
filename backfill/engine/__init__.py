"""One run: the plan, then producer → rate-limited workers → a single writer (`pipeline`).

`runner` checks the set-up and opens the sources and the store; `jobs` shapes pending ids into jobs; `fetching`
turns a job into answers from a line-up of sources (it knows the Source interface, no concrete source);
`writer` commits answers in a few short holds of the file; `watchdog` keeps "not found" from being remembered
when nothing works. It imports sources, store and the shared modules, never the CLI or the reports.
"""
