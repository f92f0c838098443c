"""CLI commands: each module defines `register(app)` and holds no logic a test can't reach without it."""
