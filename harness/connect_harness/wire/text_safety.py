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

from connect_harness.errors import UsageError
from connect_harness.redaction import redact_credentials

__all__ = ["refuse_unsafe_url", "safe_lines", "safe_text", "xml_text"]

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


def refuse_unsafe_url(url: str) -> None:
    """A URL with a space or a control character (CR/LF would split the request line) is a
    :class:`UsageError`: Python's URL parser drops CR, LF and TAB silently, so the run went to
    another URL than the one typed and blamed the endpoint."""
    bad = next((char for char in url if char <= " " or "\x7f" <= char <= "\x9f"), None)
    if bad is not None:
        shown = safe_text(redact_credentials(url))
        raise UsageError(
            f"the URL '{shown}' contains '{safe_text(bad)}'; a URL has no spaces or control "
            "characters (percent-encode them, e.g. %20)"
        )
