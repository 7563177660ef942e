"""Template syntax: placeholders, defaults, escapes, and errors with their offsets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.errors import InvalidTemplate, MissingVariable
from gateway.templates import Placeholder, escape_literal, parse_template


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("Hi {{name}}", {"name": "Ann"}, "Hi Ann"),
        ("Hi {{ name }}!", {"name": "Ann"}, "Hi Ann!"),
        ("Hi {{\tname\n}}", {"name": "Ann"}, "Hi Ann"),
        ("Hi {{name|friend}}", {}, "Hi friend"),
        ("Hi {{ name | dear friend }}", {}, "Hi dear friend"),
        ("Hi {{name|friend}}", {"name": "Ann"}, "Hi Ann"),
        ("Hi {{name|}}.", {}, "Hi ."),
        ("Hi {{name|friend}}", {"name": ""}, "Hi "),  # present but empty stays empty
        ("{{a}}{{b}}", {"a": "1", "b": "2"}, "12"),
        ("{{{name}}}", {"name": "x"}, "{x}"),
        ("{{{{name}}}}", {"name": "x"}, "{{x}}"),
        ("\\{{name}}", {}, "{{name}}"),
        ("\\{{{name}}}", {}, "{{{name}}}"),
        ("a \\ b \\{ c", {}, "a \\ b \\{ c"),
        ("\\\\{{name}}", {}, "\\{{name}}"),  # a backslash, then an escaped run
        ("{ single } and }} closing", {}, "{ single } and }} closing"),
        ("Code {{code}}", {"code": "{{name}}"}, "Code {{name}}"),  # values are not expanded
        ("", {}, ""),
    ],
)
def test_render(template: str, values: dict[str, str], expected: str) -> None:
    assert parse_template(template).render(values) == expected


@pytest.mark.parametrize(
    ("template", "offset"),
    [
        ("Hi {{name", 3),
        ("Hi {{ }}", 3),
        ("Hi {{1abc}}", 3),
        ("Hi {{first name}}", 3),
        ("{{a|b{c}}", 0),
        ("ok {{a}} then {{", 14),
    ],
)
def test_invalid_templates_name_the_offset(template: str, offset: int) -> None:
    with pytest.raises(InvalidTemplate) as caught:
        parse_template(template)
    assert caught.value.extra["offset"] == offset
    assert caught.value.code == "template.invalid"


def test_missing_variables_are_all_named_once() -> None:
    template = parse_template("{{a}} {{b|x}} {{c}} {{a}}")
    assert template.variables == {"a", "b", "c"} and template.required == {"a", "c"}
    with pytest.raises(MissingVariable) as caught:
        template.render({})
    assert caught.value.extra["variables"] == ["a", "c"]
    assert caught.value.code == "template.missing_variable"


def test_pieces_alternate_literals_and_placeholders() -> None:
    assert parse_template("Hi {{ name | you }}, {{code}}").pieces == (
        "Hi ",
        Placeholder("name", "you"),
        ", ",
        Placeholder("code", None),
    )


@given(st.text(alphabet=st.sampled_from("{}\\|ab \n"), max_size=40))
def test_an_escaped_literal_renders_to_itself(text: str) -> None:
    assert parse_template(escape_literal(text)).render({}) == text


_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_literal = st.text(alphabet=st.characters(blacklist_characters="{}\\"), max_size=10)


@given(st.lists(st.tuples(_literal, _names, st.text(max_size=10)), max_size=6), _literal)
def test_rendering_substitutes_each_value_verbatim(
    pieces: list[tuple[str, str, str]], tail: str
) -> None:
    template = "".join(f"{lit}{{{{{name}}}}}" for lit, name, _ in pieces) + tail
    values: dict[str, str] = {}
    for _, name, value in pieces:
        values.setdefault(name, value)
    expected = "".join(lit + values[name] for lit, name, _ in pieces) + tail
    assert parse_template(template).render(values) == expected


@given(st.text(max_size=60))
def test_parsing_never_fails_with_anything_but_invalid_template(text: str) -> None:
    try:
        template = parse_template(text)
    except InvalidTemplate:
        return
    rendered = template.render(dict.fromkeys(template.variables, "v"))
    assert isinstance(rendered, str)
