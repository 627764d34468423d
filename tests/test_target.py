"""Unit tests of target.py's input reading: the bound on a line's length."""

from __future__ import annotations

import io

import pytest
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_linkedin_capi.target import MAX_LINE_CHARS, bounded_lines


@pytest.mark.parametrize("source", [io.StringIO, lambda text: text.splitlines(keepends=True)])
def test_lines_up_to_the_bound_pass_whole_with_or_without_a_final_newline(source) -> None:
    text = "abcd\n" + "x" * 4 + "\n" + "\n" + "efgh"
    assert list(bounded_lines(source(text), 4)) == ["abcd\n", "xxxx\n", "\n", "efgh"]


@pytest.mark.parametrize("text", ["abcde\n", "ok\nabcde", "ok\n" + "y" * 10_000 + "\n"])
def test_a_line_past_the_bound_is_refused_without_its_content(text: str) -> None:
    with pytest.raises(InvalidInputLine, match="longer than 4 characters") as raised:
        list(bounded_lines(io.StringIO(text), 4))
    assert "abcde" not in str(raised.value) and "yyyy" not in str(raised.value)


def test_no_more_than_the_bound_is_read_of_a_long_line() -> None:
    stream = io.StringIO("z" * 1000 + "\n")
    with pytest.raises(InvalidInputLine):
        next(bounded_lines(stream, 10))
    assert stream.tell() == 11


def test_invalid_utf8_is_an_input_line_error() -> None:
    stream = io.TextIOWrapper(io.BytesIO(b'{"a": "\xff"}\n'), encoding="utf-8")
    with pytest.raises(InvalidInputLine, match="not valid UTF-8"):
        list(bounded_lines(stream, 100))


def test_the_default_bound_is_64_mib() -> None:
    assert MAX_LINE_CHARS == 64 * 1024 * 1024
