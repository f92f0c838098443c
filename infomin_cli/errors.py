"""The one exception type a user is meant to see.

Anything raised as `InfominError` is printed by the CLI as a single line and exits with code 2:
it names the problem and, where there is one, the fix. Every other exception is a bug and keeps
its traceback.
"""


class InfominError(Exception):
    """Bad input or an unusable environment: one line for the user, exit code 2."""


class TrainingDiverged(InfominError):
    """The loss became NaN/inf; the last good checkpoint was kept."""
