"""The one error a configuration that cannot be used raises."""

from __future__ import annotations


class ConfigError(ValueError):
    """The configuration cannot be used; the message is one line naming file, block and field.

    A `ValueError`, so `parse_duration` can raise it on its own. `source`, `block` and
    `field` are also available as attributes (None where they do not apply).
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        block: str | None = None,
        field: str | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.block = block
        self.field = field
        super().__init__(": ".join(part for part in (source, block, problem) if part))

    def located(self, source: str, block: str | None) -> ConfigError:
        """The same error, placed in a file and block."""
        return ConfigError(self.problem, source=self.source or source, block=self.block or block, field=self.field)
