"""The core library: no Typer, no printing. The CLI, the planners and plugins call it."""
