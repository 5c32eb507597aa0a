"""Names a source config may use, and the URL rules checked when a config loads (parse-time light).

The source kinds (``csv``, ``parquet``, ``sql``), the placeholders of a partitioned path template, the
hive partition keys that carry time, and the query-string keys that hold secrets. ``tests/unit/sources``
asserts that the reader registry (:data:`watchkeeper.sources.READERS`) and the config union name exactly
these kinds. Standard library only: the DAG file imports this module while Airflow parses it.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote_plus

#: Registered source kinds (see :mod:`watchkeeper.sources`).
SOURCE_KINDS = ("csv", "parquet", "sql")

#: Placeholders of a partitioned path template and the text each one matches.
PLACEHOLDERS: dict[str, str] = {
    "yyyy": r"\d{4}",
    "mm": r"\d{1,2}",
    "dd": r"\d{1,2}",
    "hh": r"\d{1,2}",
    "date": r"\d{4}-?\d{2}-?\d{2}",
}

#: Hive partition keys (``key=value`` folder or file names) read as time, lower case.
HIVE_TIME_KEYS = ("year", "month", "day", "hour", "date", "dt", "ds")

#: ``{name}`` in a path, but not the ``${VAR}`` of an environment variable.
PLACEHOLDER_RE = re.compile(r"(?<!\$)\{([^{}]*)\}")

# What SQLAlchemy itself accepts (``sqlalchemy.engine.url._parse_url``), so that masking and the
# literal-secret check see the same parts as the engine will.
_URL_RE = re.compile(
    r"""
    (?P<scheme>[\w+.-]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?P<host>(?:\[[^/?]+\]|[^/:?]+)?)
    (?::(?P<port>[^/?]*))?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    $""",
    re.VERBOSE | re.DOTALL,
)
_SECRET_KEY_RE = re.compile(r"pass(word|wd|phrase)|pwd|secret|token|credential|private_key|api_?key|access_key", re.I)
_PATH_KEY_RE = re.compile(r"(file|path)$", re.I)
_ENV_ONLY_RE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_FIX = "never commit secrets: write ${SOME_ENV_VAR} in its place or use an Airflow connection (conn_id)"


def secret_key(key: str) -> bool:
    """Whether a URL query key holds a secret (``password``, ``sslpassword``, ``token``...; not ``passfile``)."""
    return bool(_SECRET_KEY_RE.search(key)) and not _PATH_KEY_RE.search(key)


def url_problems(url: str) -> list[str]:
    """What is wrong with a source URL as written in YAML: malformed, or carrying a literal secret."""
    match = _URL_RE.match(url.strip())
    if match is None:
        return [
            f"{mask_url(url)!r} is not a SQLAlchemy URL -- write dialect+driver://user@host:port/database, "
            "e.g. postgresql+psycopg://reader:${PGPASSWORD}@db.example.com/analytics"
        ]
    problems = []
    password = match["password"]
    if password and not _ENV_ONLY_RE.fullmatch(password):
        problems.append(f"the url contains a literal password -- {_FIX}")
    port = match["port"]
    if port and "${" not in port and not port.isdigit():
        problems.append(f"the url's port {port!r} is not a number -- write host:5432 or leave the port out")
    for key, value in parse_qsl(match["query"] or "", keep_blank_values=True):
        if secret_key(key) and value and not _ENV_ONLY_RE.fullmatch(value):
            problems.append(f"the url's query string carries a literal secret ({key}=...) -- {_FIX}")
    return problems


def mask_url(url: str) -> str:
    """A URL with its password and every secret query value replaced by ``***``, safe for logs and errors.

    Text that is not a URL is returned with anything after ``://`` up to an ``@`` masked, so that even a
    malformed URL never shows its credentials.
    """
    match = _URL_RE.match(url)
    if match is None:
        return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", url)
    out = f"{match['scheme']}://"
    if match["username"] is not None:
        out += match["username"] + (":***" if match["password"] is not None else "") + "@"
    out += match["host"] or ""
    if match["port"] is not None:
        out += f":{match['port']}"
    if match["database"] is not None:
        out += f"/{match['database']}"
    if match["query"] is not None:
        pairs = parse_qsl(match["query"], keep_blank_values=True)
        out += "?" + "&".join(f"{k}={'***' if secret_key(k) else quote(v, safe='/:,-_.${}')}" for k, v in pairs)
    return out


def mask_secrets(text: str, url: str) -> str:
    """``text`` (an error message) with ``url``'s password and secret query values masked wherever they occur."""
    match = _URL_RE.match(url)
    if match is None:
        return text.replace(url, mask_url(url))
    secrets = [match["password"]] if match["password"] else []
    for pair in (match["query"] or "").split("&"):
        key, _, value = pair.partition("=")
        if secret_key(unquote_plus(key)) and value:
            secrets.append(value)
    secrets += [unquote_plus(s) for s in secrets]
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
