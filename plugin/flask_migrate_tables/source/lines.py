"""Lines of a script's text: line numbers of offsets, and the lines one at a time."""
import re


def line_at(text, offset):
    """1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1


_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def lines(text):
    """text.splitlines(), one line at a time: a header check must not copy a large script."""
    start = 0
    for match in _LINE_BREAK.finditer(text):
        yield text[start:match.start()]
        start = match.end()
    if start < len(text):
        yield text[start:]
