"""``${NAME}`` request templates for :class:`~flowpack.storage.webhook.Webhook`.

Every string value in a request's keyword arguments, however deeply nested in dicts and lists,
is a :class:`string.Template`: ``${NAME}`` and ``$NAME`` are replaced, in whole or in part
(``"Bearer ${TOKEN}"``), and ``$$`` is a literal ``$``.  Dict keys are not templates.  A name is
looked up in the environment first, then as a secret: the file ``NAME`` in
``$FLOWPACK_SECRETS_DIR`` (default ``/run/secrets``, where Docker and Kubernetes mount secrets).

Rendering happens at request time only; the unrendered templates are what a storage keeps and
serialises.  Error messages name the template and the variable, never a value.
"""

from __future__ import annotations

import os
import string
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from flowpack.cas.errors import UsageError

__all__ = ["ENV_SECRETS_DIR", "SecretLookup", "render", "template_names"]

ENV_SECRETS_DIR = "FLOWPACK_SECRETS_DIR"
DEFAULT_SECRETS_DIR = "/run/secrets"


class SecretLookup(Mapping[str, str]):
    """The environment, then the secrets directory, as a read-only mapping of names."""

    def __init__(self, environ: Mapping[str, str] | None = None, secrets_dir: Path | None = None):
        self.environ = os.environ if environ is None else environ
        where = self.environ.get(ENV_SECRETS_DIR) or DEFAULT_SECRETS_DIR
        self.secrets_dir = Path(where) if secrets_dir is None else secrets_dir

    def __getitem__(self, name: str) -> str:
        if name in self.environ:
            return self.environ[name]
        if name.isidentifier():  # Template names are identifiers: no path can be formed
            try:
                return (self.secrets_dir / name).read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError):
                pass
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.environ)

    def __len__(self) -> int:
        return len(self.environ)


def render(value: Any, lookup: Mapping[str, str], where: str) -> Any:
    """``value`` with every string inside it rendered; dicts, lists and tuples are rebuilt.

    Raises :class:`UsageError` naming ``where`` (a path such as ``headers['Authorization']``)
    and the variable for an unknown name or a malformed placeholder; values are never shown.
    """
    if isinstance(value, str):
        try:
            return string.Template(value).substitute(lookup)
        except KeyError as exc:
            raise UsageError(
                f"template value {exc.args[0]!r} in {where} is neither an environment variable "
                "nor a secret"
            ) from None
        except ValueError:
            raise UsageError(
                f"malformed template in {where}: write ${{NAME}}, and $$ for a literal $"
            ) from None
    if isinstance(value, Mapping):
        return {k: render(v, lookup, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [render(v, lookup, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    return value


def template_names(value: Any) -> set[str]:
    """Every variable name the templates in ``value`` refer to."""
    if isinstance(value, str):
        names = set()
        for m in string.Template.pattern.finditer(value):
            name = m.group("named") or m.group("braced")
            if name:
                names.add(name)
        return names
    if isinstance(value, Mapping):
        return set().union(*(template_names(v) for v in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(template_names(v) for v in value))
    return set()
