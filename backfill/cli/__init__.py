"""The command line: the only layer that knows argparse, stdout and stderr, signals and the terminal.

`main.main` dispatches to one module per command (`run`, `verify`, `sync`, `undo`, `demo`), each a thin wrapper
over the layers below; `parser`/`args` build the arguments, `signals` turns SIGTERM into a clean exit, `progress`
draws the bars the engine reports to. It may import every layer; only `demo` imports the stand-in world.
"""
