"""The IdPs' HTML pages: plain forms (no JavaScript), in Dutch or English, escaped by Jinja2."""

from __future__ import annotations

from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape

from samen.idp.provider import LOCALES
from samen.idp.texts import TEXTS

_templates = Environment(loader=PackageLoader("samen.idp", "templates"), autoescape=select_autoescape(["html"]))


def language(requested: str | None, fallback: str = LOCALES[0]) -> str:
    """``requested`` when the pages speak it, else ``fallback``."""
    return requested if requested in LOCALES else fallback


def login_page(kind: str, lang: str, *, request_handle: str, client_id: str, error: str = "", entered: str = "",
               professionals: tuple = ()) -> str:
    """The login page of the ``citizen`` or ``professional`` IdP, with a link to the other language."""
    other = next(code for code in LOCALES if code != lang)
    switch_url = "login?" + urlencode({"request": request_handle, "lang": other})
    return _templates.get_template(f"{kind}.html").render(
        lang=lang, other_lang=other, t=TEXTS[lang], title=TEXTS[lang][f"{kind}_title"], switch_url=switch_url,
        request_handle=request_handle, client_id=client_id, error=error, entered=entered,
        professionals=professionals)


def error_page(lang: str) -> str:
    """Shown when a request cannot go back to its client: nothing about why (that is in the log)."""
    return _templates.get_template("error.html").render(
        lang=lang, t=TEXTS[lang], title=TEXTS[lang]["error_title"], switch_url="")
