"""Passwords out of text: every message that may hold a database URL or a libpq keyword string.

A leaf module (it imports nothing of the package), so errors.py and the pg
modules can both use it.
"""
import re
from urllib.parse import unquote

# A password wherever a URL or a libpq keyword string can carry one.
_SECRETS = (
    (re.compile(r"(://[^:/?#@\s]*:)[^\s]*@(?=[^@\s]*$|[^@\s]*[\s'\"),;])"), r"\1***@"),
    (re.compile(r"(://[^:/?#@\s]*:)[^@\s/]*@"), r"\1***@"),
    (re.compile(r"(/[^\s:/@'\"]*:)[^\s@/'\"]+@"), r"\1***@"),  # postgresql//user:pw@host
    (re.compile(r"((?:^|[\s?&;,(])(?:password|passwd|sslpassword)\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;,)]*)",
                re.IGNORECASE), r"\1***"),
)


def mask_text(text):
    """Any text that may hold a URL or a keyword string, with every password in it hidden."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def masked(url):
    """The URL as text with its password hidden (in the user part and in the query)."""
    if hasattr(url, "render_as_string"):
        text = url.render_as_string(hide_password=True)
    else:
        text = repr(url)  # SQLAlchemy 1.3 masks the password in repr()
    return mask_text(unquote(text))  # ?host=/run/postgresql reads better than %2Frun%2Fpostgresql


def redact(text, params):
    """Remove the password from a message, whatever the library put in it."""
    password = params.get("password")
    if password:
        text = text.replace(str(password), "***")
    return mask_text(text)
