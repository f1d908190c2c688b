"""Tests for strongroom.core.policy: the policy language and the ACL (Vault ACL policy semantics)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.core.policy import (
    ACL,
    CAPABILITIES,
    DEFAULT_POLICY_TEXT,
    ROOT_POLICY,
    Authorization,
    PathRule,
    Policy,
    PolicySyntaxError,
    parse_policy,
    validate_policy_name,
)
from strongroom.logical.fields import parse_lenient_duration_field


def acl(*texts: str) -> ACL:
    return ACL([parse_policy(f"p{i}", t) for i, t in enumerate(texts)])


def allowed(a: ACL, op: str, path: str, data=None, **kw) -> bool:
    return a.authorize(op, path, data, **kw).allowed


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

HCL_POLICY = """
# comment
path "secret/foo" {
  capabilities = ["create", "read"]   // trailing comment
}

/* block
   comment */
path "secret/bar/*" {
  capabilities = ["update", "list"]
  allowed_parameters = {
    "Foo" = []
    "bar" = [1, 1.5, "zip"]
  }
  denied_parameters = {
    "no_store" = ["false"]
  }
  required_parameters = ["name"]
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = 3600
}

path "/secret/+/teamb" {
  capabilities = ["read"]
}
"""

JSON_POLICY = json.dumps(
    {
        "path": {
            "secret/foo": {"capabilities": ["create", "read"]},
            "secret/bar/*": {
                "capabilities": ["update", "list"],
                "allowed_parameters": {"Foo": [], "bar": [1, 1.5, "zip"]},
                "denied_parameters": {"no_store": ["false"]},
                "required_parameters": ["name"],
                "min_wrapping_ttl": "1m",
                "max_wrapping_ttl": 3600,
            },
            "/secret/+/teamb": {"capabilities": ["read"]},
        }
    },
    indent=2,
)


def test_parse_hcl():
    p = parse_policy("mine", HCL_POLICY)
    assert p.name == "mine"
    assert p.text == HCL_POLICY
    foo, bar, teamb = p.rules
    assert foo == PathRule("secret/foo", False, False, frozenset({"create", "read"}))
    assert bar.path == "secret/bar/" and bar.glob and not bar.segment_wildcards
    assert bar.capabilities == {"update", "list"}
    # keys are lower-cased, values keep their types
    assert dict(bar.allowed_parameters) == {"foo": (), "bar": (1, 1.5, "zip")}
    assert dict(bar.denied_parameters) == {"no_store": ("false",)}
    assert bar.required_parameters == ("name",)
    assert bar.min_wrapping_ttl == 60 and bar.max_wrapping_ttl == 3600
    # one leading '/' is stripped, as Vault does
    assert teamb.path == "secret/+/teamb" and teamb.segment_wildcards and not teamb.glob


def test_parse_json_equals_hcl():
    h = parse_policy("x", HCL_POLICY)
    j = parse_policy("x", JSON_POLICY)
    assert h.rules == j.rules
    assert [dict(r.allowed_parameters) for r in h.rules] == [dict(r.allowed_parameters) for r in j.rules]


def test_parse_json_values_keep_their_types():
    # JSON has no list limitation (see the HCL known limitations below)
    (rule,) = parse_policy(
        "x",
        json.dumps(
            {"path": {"a": {"capabilities": ["read"], "denied_parameters": {"k": ["zip", 1, True, 1.5, None]}}}}
        ),
    ).rules
    assert rule.denied_parameters["k"] == ("zip", 1, True, 1.5, None)


def test_parse_json_list_form_and_duplicates():
    # hcl's JSON flattening: a list of objects is a list of blocks
    text = json.dumps({"path": [{"secret/a": {"capabilities": ["read"]}}, {"secret/a": {"capabilities": ["list"]}}]})
    p = parse_policy("x", text)
    assert [r.path for r in p.rules] == ["secret/a", "secret/a"]
    assert ACL([p]).capabilities("secret/a") == ["list", "read"]


def test_repeated_path_block_in_one_policy_merges_like_vault():
    # pyhcl alone would merge the two blocks into one dict; both rules must be kept
    text = 'path "secret/a" { capabilities = ["read"] }\npath "secret/a" { capabilities = ["list"] }\n'
    p = parse_policy("x", text)
    assert [r.path for r in p.rules] == ["secret/a", "secret/a"]
    assert ACL([p]).capabilities("secret/a") == ["list", "read"]
    denied = parse_policy("x", text + 'path "secret/a" { capabilities = ["deny"] }')
    assert ACL([denied]).capabilities("secret/a") == ["deny"]


def test_repeated_json_keys_are_kept():
    text = (
        '{"path": {"secret/a": {"capabilities": ["read"]}},'
        ' "path": {"secret/a": {"capabilities": ["deny"]}, "secret/b": {"capabilities": ["read"]}}}'
    )
    a = ACL([parse_policy("x", text)])
    assert a.capabilities("secret/a") == ["deny"] and a.capabilities("secret/b") == ["read"]


def test_path_block_needs_a_label():
    for text in ('path { capabilities = ["read"] }', '{"path": {"capabilities": ["read"]}}', 'path = "read"'):
        with pytest.raises(PolicySyntaxError, match="expected a block labelled with the path"):
            parse_policy("x", text)


def test_empty_and_comment_only_policies():
    assert parse_policy("x", "").rules == ()
    assert parse_policy("x", "   \n").rules == ()
    assert parse_policy("x", "# nothing\n").rules == ()
    assert parse_policy("x", "{}").rules == ()


def test_name_key_is_accepted_and_ignored():
    p = parse_policy("real", 'name = "other"\npath "a" { capabilities = ["read"] }')
    assert p.name == "real" and len(p.rules) == 1


def test_hcl_heredoc_interpolation_and_crlf():
    text = (
        'path "a\\"b\\\\z" {\r\n'
        '  capabilities = ["read"]\r\n'
        "  allowed_parameters = {\r\n"
        '    "x" = [<<EOT\r\nline1\r\nEOT\r\n, "${foo("bar")}"]\r\n'
        "  }\r\n"
        "}\r\n"
    )
    (rule,) = parse_policy("x", text).rules
    assert rule.path == 'a"b\\z'  # \" and \\ are decoded
    # Known limitation (pyhcl): a heredoc loses its final newline (Vault: "line1\n").
    assert rule.allowed_parameters["x"] == ("line1", '${foo("bar")}')


def test_known_limitation_hcl_escapes_are_refused():
    # pyhcl decodes only \" and \\; it would keep "\t" as a backslash and a "t", so a deny
    # rule could silently stop matching. Such a policy is refused, pointing to JSON.
    for text in (
        'path "a\\u00e9\\t" { capabilities = ["read"] }',
        'path "a" { capabilities = ["read"] denied_parameters = { "k" = ["\\x41"] } }',
    ):
        with pytest.raises(PolicySyntaxError, match=r"unsupported escape .* write the policy in JSON"):
            parse_policy("x", text)
    (rule,) = parse_policy("x", json.dumps({"path": {"a\u00e9\t": {"capabilities": ["read"]}}})).rules
    assert rule.path == "a\u00e9\t"
    # for pyhcl a string ending in an escaped backslash ("a\\") does not end there: an error
    with pytest.raises(PolicySyntaxError, match="At 1:39: EOF before closing string quote"):
        parse_policy("x", 'path "a\\\\" { capabilities = ["read"] }')


@pytest.mark.parametrize(
    "values",
    ['[false, "false"]', "[true]", '["zip", 1]', '["zip", 1.5, "zap"]'],
)
def test_known_limitation_hcl_lists_pyhcl_cannot_read(values):
    # Valid in Vault (the first is from Vault's documentation) but not readable by pyhcl
    # 0.4.5: a syntax error naming the line. The JSON form accepts these lists.
    text = f'path "secret/foo" {{\n  capabilities = ["create"]\n  denied_parameters = {{ "k" = {values} }}\n}}'
    with pytest.raises(PolicySyntaxError) as exc:
        parse_policy("x", text)
    assert exc.value.line == 3 and str(exc.value).startswith("failed to parse policy: At 3:")
    assert "unexpected" in str(exc.value)


def test_duplicate_attributes_in_one_block_are_combined():
    (rule,) = parse_policy(
        "x",
        """path "a" {
             capabilities = ["read"]
             capabilities = ["list"]
             allowed_parameters = { "k" = ["v1"] }
             allowed_parameters = { "k" = ["v2"] }
           }""",
    ).rules
    assert rule.capabilities == {"read", "list"}
    assert rule.allowed_parameters["k"] == ("v1", "v2")


@pytest.mark.parametrize(
    "text, line, col",
    [
        ('path "a" {\n  capabilities = ["read"\n}', 3, 1),
        ('path "a" {\n  capabilities = ["read"]\n', 3, 1),
        ('path "a" {\n  capabilities = ["read"]\n  foo\n}', 4, 1),
        ('path "a" {\n  capabilities = ["read", @]\n}', 2, 27),
        ('path "a" {\n  capabilities = "read\n}', 3, 2),  # pyhcl: strings may span lines
        ("\n\npath secret/foo {\n}", 3, 13),
        ('{\n  "path": {\n    "a": {"capabilities": ["read"],}\n  }\n}', 3, 36),
        ('{\n  "path": {\n    "a": {"capabilities": ["read"]}\n  }\n', 5, 1),
    ],
)
def test_syntax_errors_name_line_and_column(text, line, col):
    with pytest.raises(PolicySyntaxError) as exc:
        parse_policy("x", text)
    assert exc.value.line == line and exc.value.column == col
    assert str(exc.value).startswith(f"failed to parse policy: At {line}:{col}: ")


def test_error_inside_block_is_not_swallowed():
    # hashicorp/hcl v1 would silently drop `capabilities` here
    with pytest.raises(PolicySyntaxError, match='At 1:35: unexpected "}"'):
        parse_policy("x", 'path "a" { capabilities = ["read" } }')


def test_unknown_capability_names_it_the_path_and_the_block_line():
    text = (
        '\npath "secret/ok" {\n  capabilities = ["read"]\n}\npath "secret/x" {\n  capabilities = ["read", "raed"]\n}\n'
    )
    with pytest.raises(PolicySyntaxError) as exc:
        parse_policy("x", text)
    msg = str(exc.value)
    assert 'path "secret/x"' in msg and '"raed"' in msg and "invalid capability" in msg
    # the position is that of the path block (the parsed values carry no positions)
    assert exc.value.line == 5 and exc.value.column == 1 and exc.value.path == "secret/x"
    assert msg.startswith('failed to parse policy: At 5:1: path "secret/x": ')


def test_semantic_errors():
    cases = {
        'path "a" {\n  capabilites = ["read"]\n}': 'At 1:1: path "a": invalid key "capabilites"',
        'path "a" { policy = "writ" }': 'invalid policy "writ"',
        'path "a" { capabilities = "read" }': "expected a list of strings",
        'path "a" {}': "no capabilities specified",
        'path "a" { capabilities = [] }': "no capabilities specified",
        'path "a/+*" { capabilities = ["read"] }': "'+*' is forbidden",
        'path "a" { capabilities = ["read"] min_wrapping_ttl = "abc" }': 'field "min_wrapping_ttl": '
        'invalid duration "abc"',
        'path "a" { capabilities = ["read"] '
        'min_wrapping_ttl = "2h" max_wrapping_ttl = "1h" }': "max_wrapping_ttl cannot be less than min_wrapping_ttl",
        'path "a" { capabilities = ["read"] max_wrapping_ttl = "1500ms" }': "is not a whole number of seconds",
        'path "a" { capabilities = ["read"] allowed_parameters = { "a*" = [] } }': "cannot contain non-tail wildcards",
        'path "a" { capabilities = ["read"] allowed_parameters = { "a" = "b" } }': 'the value for "a" must be a list',
        'path "a" { capabilities = ["read"] denied_parameters = { "/a/b" = [] } }': "nested parameter paths "
        "are not supported",
        'path "a/{{identity.entity.id" { capabilities = ["read"] }': "unbalanced templating characters",
        'path = "read"': "expected a block",
        'pth "a" { capabilities = ["read"] }': 'invalid key "pth"',
        'path "a" { capabilities = ["read"] }\nsubscribe = 1': 'invalid key "subscribe"',
    }
    for text, fragment in cases.items():
        with pytest.raises(PolicySyntaxError) as exc:
            parse_policy("x", text)
        assert fragment in str(exc.value), (text, str(exc.value))
        assert str(exc.value).startswith("failed to parse policy: ")


def test_non_vault_capabilities_rejected():
    for cap in ("subscribe", "recover", "scan", "root", "write", "READ"):
        with pytest.raises(PolicySyntaxError, match="invalid capability"):
            parse_policy("x", f'path "a" {{ capabilities = ["{cap}"] }}')


def test_empty_capabilities_allowed_when_not_strict_and_then_deny():
    p = parse_policy("x", 'path "secret/a" {}\npath "secret/*" { capabilities = ["read"] }', strict=False)
    a = ACL([p])
    assert not allowed(a, "read", "secret/a")  # the empty rule is the most specific
    assert a.capabilities("secret/a") == ["deny"]
    assert allowed(a, "read", "secret/b")


def test_deny_ignores_rest_of_block():
    # Vault stops at "deny": later invalid capabilities and parameters are not checked
    (rule,) = parse_policy(
        "x", 'path "a" { capabilities = ["deny", "bogus"] allowed_parameters = { "x*" = [] } }'
    ).rules
    assert rule.capabilities == {"deny"} and not rule.allowed_parameters
    with pytest.raises(PolicySyntaxError):
        parse_policy("x", 'path "a" { capabilities = ["bogus", "deny"] }')


@pytest.mark.parametrize(
    "legacy, caps",
    [
        ("deny", {"deny"}),
        ("read", {"read", "list"}),
        ("write", {"create", "read", "update", "delete", "list"}),
        ("sudo", {"create", "read", "update", "delete", "list", "sudo"}),
    ],
)
def test_legacy_policy_shorthand(legacy, caps):
    (rule,) = parse_policy("x", f'path "secret/*" {{ policy = "{legacy}" }}').rules
    assert rule.capabilities == caps


def test_legacy_policy_adds_to_capabilities():
    (rule,) = parse_policy("x", 'path "a" { capabilities = ["patch"] policy = "read" }').rules
    assert rule.capabilities == {"patch", "read", "list"}
    (rule,) = parse_policy("x", 'path "a" { capabilities = ["patch"] policy = "deny" }').rules
    assert rule.capabilities == {"deny"}


def test_enterprise_keys_accepted_and_ignored():
    (rule,) = parse_policy(
        "x",
        """path "a" {
             capabilities = ["read"]
             comment = "why"
             mfa_methods = ["m"]
             control_group = { factor "f" { identity { group_names = ["g"] approvals = 1 } } }
           }""",
    ).rules
    assert rule.capabilities == {"read"}


def test_templated_paths_parse_but_never_match():
    p = parse_policy("x", 'path "secret/{{identity.entity.id}}/*" { capabilities = ["read"] }')
    (rule,) = p.rules
    assert rule.templated
    a = ACL([p])
    assert not allowed(a, "read", "secret/{{identity.entity.id}}/x")


def test_wrapping_ttls_read_as_lenient_duration_fields():
    assert parse_lenient_duration_field(None) == 0
    assert parse_lenient_duration_field("") == 0
    assert parse_lenient_duration_field(90) == 90
    assert parse_lenient_duration_field(1.9) == 1
    assert parse_lenient_duration_field("300") == 300
    assert parse_lenient_duration_field("2d") == 172800
    assert parse_lenient_duration_field("1h30m") == 5400
    assert parse_lenient_duration_field("1.5h") == 5400
    assert parse_lenient_duration_field("0") == 0
    # read by parse_duration_field: whole seconds only, days may be fractional
    assert parse_lenient_duration_field("1.5d") == 129600
    for bad in ("abc", "1x", "1.5", "d", ".", "1500ms", "-5s", True, [1]):
        with pytest.raises(ValueError):
            parse_lenient_duration_field(bad)


# ---------------------------------------------------------------------------
# Policy names
# ---------------------------------------------------------------------------


def test_validate_policy_name():
    assert validate_policy_name("  My-Policy ") == "my-policy"
    assert validate_policy_name("team/app") == "team/app"
    assert validate_policy_name("default") == "default"
    for bad in (
        "",
        "   ",
        "a..b",
        "..",
        "root",
        "ROOT",
        " Root ",
        "response-wrapping",
        "control-group",
        "a\nb",
        "a\x00",
    ):
        with pytest.raises(ValueError):
            validate_policy_name(bad)


# ---------------------------------------------------------------------------
# Matching: exact, '+' and '*'
# ---------------------------------------------------------------------------


def test_exact_path_only():
    a = acl('path "secret/foo" { capabilities = ["read"] }')
    assert allowed(a, "read", "secret/foo")
    assert allowed(a, "read", "/secret/foo")  # leading slashes are ignored
    for other in ("secret/food", "secret/foo/bar", "secret/fo", "secret", "secret/foo/"):
        assert not allowed(a, "read", other), other


def test_glob_matches_any_suffix_including_empty_and_slashes():
    a = acl('path "secret/*" { capabilities = ["read"] }')
    for p in ("secret/", "secret/a", "secret/a/b/c", "secret/*"):
        assert allowed(a, "read", p), p
    for p in ("secret", "secre", "secrets/a", ""):
        assert not allowed(a, "read", p), p


def test_glob_mid_segment_prefix():
    a = acl('path "secret/zip-*" { capabilities = ["read"] }')
    assert allowed(a, "read", "secret/zip-zap")
    assert allowed(a, "read", "secret/zip-zap/zong")
    assert not allowed(a, "read", "secret/zip/zap")


def test_star_alone_matches_everything():
    a = acl('path "*" { capabilities = ["read"] }')
    for p in ("", "a", "a/b/c", "sys/"):
        assert allowed(a, "read", p)


def test_plus_matches_exactly_one_segment():
    a = acl('path "secret/+/foo" { capabilities = ["read"] }')
    assert allowed(a, "read", "secret/a/foo")
    assert allowed(a, "read", "secret/xyz/foo")
    assert allowed(a, "read", "secret//foo")  # an empty segment is a segment (Vault)
    for p in ("secret/foo", "secret/a/b/foo", "secret/a/foo/", "secret/a/foo/x", "secret/a/fo", "other/a/foo"):
        assert not allowed(a, "read", p), p


def test_plus_combinations():
    a = acl(
        'path "secret/+/+/teamb" { capabilities = ["read"] }',
        'path "+" { capabilities = ["list"] }',
        'path "kv/+/data/*" { capabilities = ["update"] }',
        'path "pre/+/ab*" { capabilities = ["delete"] }',
    )
    assert allowed(a, "read", "secret/foo/bar/teamb")
    assert not allowed(a, "read", "secret/foo/teamb")
    assert allowed(a, "list", "anything") and not allowed(a, "list", "two/segments")
    assert allowed(a, "update", "kv/x/data/") and allowed(a, "update", "kv/x/data/a/b")
    assert not allowed(a, "update", "kv/x/data") and not allowed(a, "update", "kv/x/y/data/a")
    assert allowed(a, "delete", "pre/x/abc") and allowed(a, "delete", "pre/x/ab/c")
    assert not allowed(a, "delete", "pre/x/a")


def test_plus_inside_a_segment_is_literal():
    a = acl('path "secret/a+b" { capabilities = ["read"] }', 'path "secret/+x" { capabilities = ["list"] }')
    assert allowed(a, "read", "secret/a+b") and not allowed(a, "read", "secret/aXb")
    assert allowed(a, "list", "secret/+x") and not allowed(a, "list", "secret/yx")


def test_secret_slash_vs_secret():
    a = acl('path "secret/" { capabilities = ["read", "list"] }', 'path "kv" { capabilities = ["list"] }')
    assert allowed(a, "read", "secret/") and not allowed(a, "read", "secret")
    # LIST falls back to the exact rule without the trailing slash
    assert allowed(a, "list", "kv/") and allowed(a, "list", "kv")
    assert a.capabilities("kv/") == ["list"]
    assert not allowed(a, "read", "kv/")


def test_list_with_trailing_slash_matches_wildcard_rule_without_it():
    # Vault PR 23874: '+/sys/policies/acl' allows LIST on 'ns/sys/policies/acl/'
    a = acl('path "+/sys/policies/acl" { capabilities = ["list"] }')
    assert allowed(a, "list", "ns1/sys/policies/acl/")
    assert allowed(a, "list", "ns1/sys/policies/acl")
    assert a.capabilities("ns1/sys/policies/acl/") == ["list"]
    assert not allowed(a, "read", "ns1/sys/policies/acl/")


def test_exact_beats_glob():
    a = acl('path "secret/*" { capabilities = ["read"] }', 'path "secret/foo" { capabilities = ["update"] }')
    assert allowed(a, "update", "secret/foo") and not allowed(a, "read", "secret/foo")
    assert allowed(a, "read", "secret/food")


def test_longest_glob_wins():
    a = acl('path "secret/*" { capabilities = ["read"] }', 'path "secret/foo*" { capabilities = ["update"] }')
    assert allowed(a, "update", "secret/foobar") and not allowed(a, "read", "secret/foobar")
    assert allowed(a, "read", "secret/fo")


# ---------------------------------------------------------------------------
# Priority between wildcard rules (Vault's documented order)
# ---------------------------------------------------------------------------

# Each case: (lower-priority rule, higher-priority rule, path matched by both).
PRIORITY_CASES = [
    # (1) first wildcard later wins
    ("foo/+", "foo/a*", "foo/abc"),
    ("foo/+/bar/baz", "foo/bar/+/baz", "foo/bar/bar/baz"),
    ("foo/+/(ar/baz", "foo/(ar/+/baz", "foo/(ar/(ar/baz"),
    ("+/*", "foo/+/*", "foo/bar/bar/baz"),
    # (2) ending in '*' loses
    ("foo/+/ba*", "foo/+/bar", "foo/x/bar"),
    ("foo/*", "foo/+", "foo/x"),
    ("foo/bar/+/baz*", "foo/bar/+/baz", "foo/bar/bar/baz"),
    # (3) more '+' segments loses -- the documentation's example
    ("secret/+/+/foo/*", "secret/*", "secret/a/b/foo/c"),
    ("foo/+/+/*", "foo/+/bar/baz", "foo/bar/bar/baz"),
    ("foo/+/+/baz", "foo/+/bar/baz", "foo/bar/bar/baz"),
    ("+/*", "*", "foo/bar/bar/baz"),
    # (4) shorter loses
    ("foo/+/bar/b*", "foo/+/bar/ba*", "foo/x/bar/baz"),
    ("foo/bar/+/b*", "foo/bar/+/ba*", "foo/bar/bar/baz"),
    # (5) lexicographically smaller loses
    ("+/+/b", "+/a/+", "x/a/b"),
]


@pytest.mark.parametrize("low, high, path", PRIORITY_CASES)
def test_priority_rules(low, high, path):
    for order in ((low, high), (high, low)):
        texts = {
            low: f'path "{low}" {{ capabilities = ["read"] }}',
            high: f'path "{high}" {{ capabilities = ["update"] }}',
        }
        # in one policy and spread over two policies, in both orders
        one = ACL([parse_policy("p", "\n".join(texts[r] for r in order))])
        two = ACL([parse_policy(r, texts[r]) for r in order])
        for a in (one, two):
            assert allowed(a, "update", path), (low, high, path)
            assert not allowed(a, "read", path), (low, high, path)


def test_priority_only_among_matching_rules():
    # the more specific rule does not match, so the broader one applies
    a = acl('path "secret/*" { capabilities = ["read"] }', 'path "secret/+/foo" { capabilities = ["update"] }')
    assert allowed(a, "update", "secret/a/foo")
    assert allowed(a, "read", "secret/a/bar") and not allowed(a, "update", "secret/a/bar")


# ---------------------------------------------------------------------------
# Merging across policies and deny
# ---------------------------------------------------------------------------


def test_same_path_capabilities_are_unioned():
    a = acl('path "secret/a" { capabilities = ["read"] }', 'path "secret/a" { capabilities = ["update"] }')
    assert a.capabilities("secret/a") == ["read", "update"]


def test_same_path_different_globness_are_different_rules():
    a = acl('path "secret/a" { capabilities = ["read"] }', 'path "secret/a*" { capabilities = ["update"] }')
    assert a.capabilities("secret/a") == ["read"]
    assert a.capabilities("secret/ab") == ["update"]


@pytest.mark.parametrize("deny_first", [True, False])
def test_deny_wins_across_policies(deny_first):
    deny = 'path "secret/a" { capabilities = ["deny"] }'
    grant = 'path "secret/a" { capabilities = ["create", "read", "update", "sudo"] }'
    a = acl(*((deny, grant) if deny_first else (grant, deny)))
    for op in ("create", "read", "update", "list", "delete", "patch"):
        assert not allowed(a, op, "secret/a")
    res = a.authorize("read", "secret/a")
    assert res == Authorization(False, False, res.reason) and "denied" in res.reason
    assert a.capabilities("secret/a") == ["deny"]


def test_deny_on_specific_path_beats_broad_grant():
    a = acl(
        'path "secret/*" { capabilities = ["create", "read", "update", "patch", "delete", "list"] }',
        'path "secret/super-secret" { capabilities = ["deny"] }',
    )
    assert not allowed(a, "read", "secret/super-secret")
    assert allowed(a, "read", "secret/other")


def test_deny_on_glob_does_not_affect_exact_rule():
    # the most specific rule is chosen first; deny is not inherited
    a = acl('path "secret/*" { capabilities = ["deny"] }', 'path "secret/open" { capabilities = ["read"] }')
    assert allowed(a, "read", "secret/open")
    assert not allowed(a, "read", "secret/closed")


def test_root_policy():
    a = ACL([ROOT_POLICY])
    assert a.root
    assert a.capabilities("anything/at/all") == ["root"]
    res = a.authorize("delete", "sys/seal", require_sudo=True)
    assert res.allowed and res.sudo
    assert ACL([Policy("root", "", ())]).root
    with pytest.raises(ValueError, match="other policies present along with root"):
        ACL([ROOT_POLICY, parse_policy("default", DEFAULT_POLICY_TEXT)])


def test_capabilities_output():
    assert ACL([]).capabilities("secret/a") == ["deny"]
    a = acl(
        'path "secret/*" { capabilities = ["update", "read"] }',
        'path "secret/*" { capabilities = ["sudo", "create", "patch"] }',
    )
    assert a.capabilities("secret/x") == ["create", "patch", "read", "sudo", "update"]
    assert a.capabilities("/secret/x") == ["create", "patch", "read", "sudo", "update"]
    assert a.capabilities("other") == ["deny"]
    assert set(a.capabilities("secret/x")) <= set(CAPABILITIES)


def test_sudo_reporting_and_require_sudo():
    a = acl(
        'path "sys/audit/*" { capabilities = ["update", "sudo"] }',
        'path "sys/mounts/*" { capabilities = ["update"] }',
        'path "sys/seal" { capabilities = ["sudo"] }',
    )
    res = a.authorize("update", "sys/audit/file", require_sudo=True)
    assert res.allowed and res.sudo
    res = a.authorize("update", "sys/mounts/x", require_sudo=True)
    assert not res.allowed and not res.sudo and "sudo" in res.reason
    assert a.authorize("update", "sys/mounts/x").allowed
    res = a.authorize("update", "sys/seal")  # sudo alone does not grant update
    assert not res.allowed and res.sudo


def test_operations():
    a = acl('path "a" { capabilities = ["update"] }')
    for op in ("update", "revoke", "renew", "rollback"):
        assert allowed(a, op, "a")
    assert allowed(a, "help", "anything")
    with pytest.raises(ValueError):
        a.authorize("frobnicate", "a")


# ---------------------------------------------------------------------------
# Parameter constraints
# ---------------------------------------------------------------------------


def test_allowed_parameters_doc_example():
    a = acl(
        """path "secret/restricted" {
             capabilities = ["create"]
             allowed_parameters = {
               "foo" = []
               "bar" = ["zip", "zap"]
             }
           }"""
    )
    assert allowed(a, "create", "secret/restricted", {"foo": "anything", "bar": "zip"})
    assert allowed(a, "create", "secret/restricted", {"FOO": 1})  # keys are case-insensitive
    assert allowed(a, "create", "secret/restricted", {})
    assert allowed(a, "create", "secret/restricted")
    res = a.authorize("create", "secret/restricted", {"bar": "zop-secret-value"})
    assert not res.allowed and '"bar"' in res.reason and "zop-secret-value" not in res.reason
    res = a.authorize("create", "secret/restricted", {"baz": "hush"})
    assert not res.allowed and '"baz"' in res.reason and "hush" not in res.reason


def test_allowed_parameters_star_key():
    a = acl(
        """path "secret/foo" {
             capabilities = ["create"]
             allowed_parameters = { "bar" = ["zip", "zap"], "*" = [] }
           }""",
        'path "secret/any" { capabilities = ["create"] allowed_parameters = { "*" = ["ignored"] } }',
    )
    assert allowed(a, "create", "secret/foo", {"bar": "zap", "other": "x"})
    assert not allowed(a, "create", "secret/foo", {"bar": "nope", "other": "x"})
    # when "*" is the only key, everything is allowed whatever its list says
    assert allowed(a, "create", "secret/any", {"x": "y"})


def test_denied_parameters():
    a = acl(
        """path "auth/userpass/users/*" {
             capabilities = ["update"]
             denied_parameters = { "token_policies" = [], "policies" = [] }
           }""",
        """path "auth/token/roles/*" {
             capabilities = ["create", "update"]
             denied_parameters = { "allowed_policies" = ["admin"] }
           }""",
        """path "transit/keys/*" {
             capabilities = ["create", "update"]
             denied_parameters = { "*" = [] }
           }""",
    )
    assert allowed(a, "update", "auth/userpass/users/bob", {"password": "x"})
    res = a.authorize("update", "auth/userpass/users/bob", {"password": "pw-value", "Policies": "admin"})
    assert not res.allowed and '"Policies"' in res.reason and "pw-value" not in res.reason
    assert allowed(a, "update", "auth/token/roles/r", {"allowed_policies": "dev"})
    assert not allowed(a, "update", "auth/token/roles/r", {"allowed_policies": "admin"})
    assert not allowed(a, "update", "transit/keys/k", {"exportable": True})
    assert allowed(a, "update", "transit/keys/k", {})


def test_denied_takes_precedence_over_allowed():
    a = acl(
        """path "p" {
             capabilities = ["update"]
             allowed_parameters = { "x" = [] }
             denied_parameters = { "x" = ["bad"] }
           }"""
    )
    assert allowed(a, "update", "p", {"x": "good"})
    assert not allowed(a, "update", "p", {"x": "bad"})


def test_required_parameters():
    a = acl(
        'path "secret/profile" { capabilities = ["create", "read", "delete"] required_parameters = ["name", "ID"] }'
    )
    assert allowed(a, "create", "secret/profile", {"name": "a", "id": 1})
    res = a.authorize("create", "secret/profile", {"name": "a"})
    assert not res.allowed and "id" in res.reason
    # required parameters apply even without data, and to reads (as in Vault)
    assert not allowed(a, "create", "secret/profile")
    assert not allowed(a, "read", "secret/profile")
    # but not to delete
    assert allowed(a, "delete", "secret/profile")


def test_parameters_not_checked_for_list_and_delete():
    a = acl('path "p" { capabilities = ["list", "delete", "read"] allowed_parameters = { "x" = ["1"] } }')
    assert allowed(a, "list", "p", {"y": "2"})
    assert allowed(a, "delete", "p", {"y": "2"})
    assert not allowed(a, "read", "p", {"y": "2"})


def test_glob_values():
    a = acl(
        """path "p" {
             capabilities = ["update"]
             allowed_parameters = { "a" = ["foo-*"], "b" = ["*-bar"], "c" = ["*mid*"], "d" = ["*"] }
           }""",
        'path "q" { capabilities = ["update"] denied_parameters = { "a" = ["prod-*"] } }',
    )
    ok = {"a": "foo-1", "b": "x-bar", "c": "amidb"}
    for k, v in ok.items():
        assert allowed(a, "update", "p", {k: v}), (k, v)
    for k, v in {"a": "foo", "b": "bar", "c": "mi", "a2": "x"}.items():
        assert not allowed(a, "update", "p", {k: v}), (k, v)
    # a lone "*" value only matches the literal string "*"
    assert allowed(a, "update", "p", {"d": "*"})
    assert not allowed(a, "update", "p", {"d": "anything"})
    assert not allowed(a, "update", "q", {"a": "prod-db"})
    assert allowed(a, "update", "q", {"a": "dev-db"})


def test_value_types_are_compared_strictly():
    # JSON: pyhcl cannot read a boolean in a list (see the known limitations)
    a = acl(
        json.dumps(
            {"path": {"p": {"capabilities": ["update"], "allowed_parameters": {"n": [1], "b": [True], "s": ["1"]}}}}
        )
    )
    assert allowed(a, "update", "p", {"n": 1})
    assert not allowed(a, "update", "p", {"n": "1"})
    assert not allowed(a, "update", "p", {"n": True})
    assert allowed(a, "update", "p", {"b": True})
    assert not allowed(a, "update", "p", {"b": 1})
    assert allowed(a, "update", "p", {"s": "1"})
    assert not allowed(a, "update", "p", {"s": 1})


def test_doc_example_denied_false_values():
    # The documentation's HCL form is a known limitation (pyhcl); the same policy in JSON:
    a = acl(
        json.dumps(
            {"path": {"secret/foo": {"capabilities": ["create"], "denied_parameters": {"no_store": [False, "false"]}}}}
        )
    )
    assert not allowed(a, "create", "secret/foo", {"no_store": False, "value": "bar"})
    assert not allowed(a, "create", "secret/foo", {"no_store": "false"})
    assert allowed(a, "create", "secret/foo", {"value": "bar"})
    assert allowed(a, "create", "secret/foo", {"no_store": True})


def test_list_and_comma_string_values():
    a = acl(
        'path "p" { capabilities = ["update"] allowed_parameters = { "policies" = ["dev", "ops"] } }',
        'path "q" { capabilities = ["update"] denied_parameters = { "policies" = ["admin"] } }',
    )
    assert allowed(a, "update", "p", {"policies": ["dev", "ops"]})
    assert allowed(a, "update", "p", {"policies": "dev, ops"})
    assert not allowed(a, "update", "p", {"policies": ["dev", "admin"]})
    assert not allowed(a, "update", "p", {"policies": "dev,admin"})
    assert not allowed(a, "update", "q", {"policies": ["dev", "admin"]})
    assert not allowed(a, "update", "q", {"policies": "dev,admin"})
    assert allowed(a, "update", "q", {"policies": "dev,ops"})
    # Vault quirk kept: an empty string splits into no elements and passes
    assert allowed(a, "update", "p", {"policies": ""})


def test_parameter_constraints_merge_across_policies():
    a = acl(
        'path "p" { capabilities = ["update"] allowed_parameters = { "x" = ["1"] } }',
        'path "p" { capabilities = ["create"] allowed_parameters = { "x" = ["2"], "y" = [] } }',
    )
    assert allowed(a, "update", "p", {"x": "1"})
    assert allowed(a, "create", "p", {"x": "2", "y": "anything"})
    assert not allowed(a, "update", "p", {"x": "3"})
    assert not allowed(a, "update", "p", {"z": "1"})
    r = acl(
        'path "p" { capabilities = ["update"] required_parameters = ["r1"] }',
        'path "p" { capabilities = ["update"] required_parameters = ["r2", "r1"] }',
    )
    assert allowed(r, "update", "p", {"r1": 1, "r2": 2})
    assert not allowed(r, "update", "p", {"r1": 1})
    assert not allowed(r, "update", "p", {"r2": 1})
    # an empty list on either side means "any value"
    b = acl(
        'path "p" { capabilities = ["update"] allowed_parameters = { "x" = ["1"] } }',
        'path "p" { capabilities = ["update"] allowed_parameters = { "x" = [] } }',
    )
    assert allowed(b, "update", "p", {"x": "42"})
    # a rule without constraints does not lift another's (Vault merges, it does not union)
    c = acl(
        'path "p" { capabilities = ["update"] allowed_parameters = { "x" = ["1"] } }',
        'path "p" { capabilities = ["update"] }',
    )
    assert not allowed(c, "update", "p", {"x": "2"})


def test_wrapping_ttl_constraints():
    a = acl('path "p" { capabilities = ["read"] min_wrapping_ttl = "1m" max_wrapping_ttl = "1h" }')
    assert not allowed(a, "read", "p")
    assert allowed(a, "read", "p", wrap_ttl=300)
    assert not allowed(a, "read", "p", wrap_ttl=30)
    assert not allowed(a, "read", "p", wrap_ttl=7200)
    # merged bounds take the lesser values
    b = acl(
        'path "p" { capabilities = ["read"] max_wrapping_ttl = "1h" }',
        'path "p" { capabilities = ["read"] max_wrapping_ttl = "10m" }',
    )
    assert allowed(b, "read", "p", wrap_ttl=600) and not allowed(b, "read", "p", wrap_ttl=601)


# ---------------------------------------------------------------------------
# Default policy
# ---------------------------------------------------------------------------


def test_default_policy():
    p = parse_policy("default", DEFAULT_POLICY_TEXT)
    a = ACL([p])
    assert allowed(a, "read", "auth/token/lookup-self")
    assert allowed(a, "update", "auth/token/renew-self")
    assert allowed(a, "update", "sys/capabilities-self")
    assert allowed(a, "read", "sys/internal/ui/resultant-acl")
    assert allowed(a, "update", "sys/wrapping/unwrap")
    assert allowed(a, "update", "sys/tools/hash/sha2-256")
    assert allowed(a, "update", "sys/leases/lookup")
    assert allowed(a, "create", "cubbyhole/mine") and allowed(a, "list", "cubbyhole/")
    assert a.capabilities("identity/oidc/provider/p1/authorize") == ["read", "update"]
    assert not allowed(a, "read", "secret/foo")
    assert not allowed(a, "update", "auth/token/lookup-self")
    assert a.capabilities("secret/foo") == ["deny"]
    assert all(not r.templated for r in p.rules)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

_PATH_CHARS = st.sampled_from(list("abcxyz019-_./@: ") + ["é", "+", "*", "{", "}"])
_PLAIN = st.text(alphabet=st.sampled_from(list("abcxyz019-_./@ ") + ["é"]), max_size=20)


@settings(max_examples=150, deadline=None)
@given(p=_PLAIN.filter(lambda s: not s.startswith("/") and "/+" not in s), q=st.text(_PATH_CHARS, max_size=20))
def test_property_exact_rule_allows_exactly_its_path(p, q):
    a = ACL([parse_policy("x", json.dumps({"path": {p: {"capabilities": ["read", "list"]}}}))])
    assert allowed(a, "read", p)
    q = q.lstrip("/")
    if q != p:
        assert not allowed(a, "read", q)
        if q != p + "/":  # LIST (and so sys/capabilities) also tries the path without one trailing slash
            assert a.capabilities(q) == ["deny"]
            assert not allowed(a, "list", q)


@settings(max_examples=100, deadline=None)
@given(prefix=_PLAIN.filter(lambda s: not s.startswith("/") and "/+" not in s), q=st.text(_PATH_CHARS, max_size=25))
def test_property_glob_rule_allows_exactly_its_prefix(prefix, q):
    a = ACL([parse_policy("x", json.dumps({"path": {prefix + "*": {"capabilities": ["read"]}}}))])
    q = q.lstrip("/")
    assert allowed(a, "read", q) == q.startswith(prefix)
