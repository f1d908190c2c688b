"""strongroom.hcl: pyhcl with every entry kept and real error positions."""

from __future__ import annotations

import json

import pytest

from strongroom import hcl


def test_top_level_entries_keep_repeated_blocks_in_order():
    found = hcl.parse_entries('path "a" { x = 1 }\nname = "n"\npath "a" { x = 2 }\n')
    assert found == [("path", {"a": {"x": 1}}), ("name", "n"), ("path", {"a": {"x": 2}})]
    assert hcl.parse_entries("") == [] and hcl.parse_entries("# nothing\n") == []


def test_objects_keep_repeated_keys_as_entries():
    ((_, labels),) = hcl.parse_entries('p "a" {\n  c = ["r"]\n  c = ["l"]\n  m = { k = ["1"] }\n  m = { k = ["2"] }\n}')
    body = labels["a"]
    assert isinstance(body, hcl.HclObject)
    assert hcl.entries(body) == [("c", ["r"]), ("c", ["l"]), ("m", {"k": ["1"]}), ("m", {"k": ["2"]})]
    assert body["c"] == ["r", ["l"]]  # the dict is pyhcl's, merged as it merges (config reads it)
    assert hcl.entries({"plain": 1}) == [("plain", 1)]


def test_hcl_object_as_json_object_pairs_hook():
    data = json.loads('{"a": 1, "a": 2}', object_pairs_hook=hcl.HclObject)
    assert hcl.entries(data) == [("a", 1), ("a", 2)] and data == {"a": 2}


@pytest.mark.parametrize(
    "text, line, column, problem",
    [
        ('a = 1\nb = {\n  c = ["x"\n}', 4, 1, 'unexpected "}", expected one of: ",", "]"'),
        ("a = 1\n  b = @", 2, 7, "Illegal character '@'"),
        ("a = {\n", 2, 1, "unexpected end of file"),
        ("a = [true]", 1, 6, "unexpected true/false"),
    ],
)
def test_errors_have_real_line_and_column(text, line, column, problem):
    with pytest.raises(hcl.HclError) as exc:
        hcl.parse_entries(text)
    assert (exc.value.line, exc.value.column) == (line, column)
    assert exc.value.problem.startswith(problem)
    assert str(exc.value).startswith(f"HCL syntax error at line {line}, column {column}: {problem}")
    assert isinstance(exc.value, ValueError)


def test_block_positions():
    text = '# path "x" {}\npath "a" {\n  path "nested" {}\n}\n\n  "path" "b" { x = "path" }\npath = "c"\npath d {}\n'
    assert hcl.block_positions(text, "path") == [(2, 1), (6, 3), (8, 1)]
