"""Text that came from outside (an endpoint's answer, a request to the fake, a user's argument),
made safe to print, to put in a one-line summary and to write into XML.

An endpoint under test controls its status line, its headers and its body. Printed raw, an ESC or
BEL there clears the terminal or prints a fake "all checks passed", a newline breaks a one-line
summary into two, and a control character makes a JUnit file invalid XML. Every such character is
shown as a visible escape instead (``\\x1b``, ``\\n``, ``\\u202e``), so the text still says what the
endpoint sent.
"""

from __future__ import annotations

import re

__all__ = ["safe_lines", "safe_text", "xml_text"]

# C0 controls, DEL, C1 controls, and the Unicode format characters that reorder or hide text (bidi
# embeddings/overrides/isolates, zero-width joiners), and lone surrogates (not encodable as UTF-8).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_UNSAFE_KEEPING_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
# What XML 1.0 cannot hold at all (https://www.w3.org/TR/xml/#charsets), escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe_text(text: str) -> str:
    """``text`` on one line with every control or text-reordering character shown escaped."""
    return _UNSAFE.sub(_escape, text)


def safe_lines(text: str) -> str:
    """Like :func:`safe_text` but newlines and tabs stay: for a body shown as a block."""
    return _UNSAFE_KEEPING_LINES.sub(_escape, text)


def xml_text(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot contain shown escaped (the rest is for the XML
    writer to quote)."""
    return _NOT_XML.sub(_escape, text)
