"""The field decoder now lives in `strongroom.logical.fields` (and Go's formats in `strongroom.logical.go`)."""

# re-exported until transit/token import from strongroom.logical
from strongroom.logical.fields import (
    NAME,
    field_bool,
    field_comma_list,
    field_duration,
    field_int,
    field_str,
    given,
)
from strongroom.logical.go import go_quoted_list

__all__ = [
    "NAME",
    "field_bool",
    "field_comma_list",
    "field_duration",
    "field_int",
    "field_str",
    "given",
    "go_quoted_list",
]
