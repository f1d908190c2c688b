"""The web UI: static files inside the package (static/), served under `/ui` when the configuration says `ui = true`.

The files are a pure client of the public HTTP API (`/v1/...`, `/secrets/v1/...`); nothing here reaches the core.
"""
