"""Static checks of the HTML report, shared by test_report_html and test_report_map: parse it, check it
is self-contained (no script, no handler, no fetching element, only https and in-page links, the CSP
meta), and that every in-page link resolves to exactly one element id."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from auditor.report.html import CSP

URL_ATTRS = ("src", "srcset", "xlink:href", "action", "formaction", "background", "poster")


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data
        else:
            self.text.append(data)


def parse(data: bytes) -> Tags:
    p = Tags()
    p.feed(data.decode("utf-8"))
    p.close()
    return p


def assert_self_contained(data: bytes) -> Tags:
    """No script, no event handler, no element that fetches; links only in <a href>, each an in-page
    anchor or an https URL (never a relative path: a report cites nothing that does not ship with it);
    the CSP meta."""
    p = parse(data)
    names = [t for t, _ in p.tags]
    assert "script" not in names and "iframe" not in names and "object" not in names and "embed" not in names
    assert "img" not in names and "link" not in names and "base" not in names and "form" not in names
    assert "image" not in names and "use" not in names and "foreignobject" not in names  # SVG fetchers
    for tag, attrs in p.tags:
        for k, v in attrs.items():
            assert not k.startswith("on"), (tag, k)
            assert k not in URL_ATTRS, (tag, k)
            if k == "href":
                assert tag == "a" and v is not None and (v.startswith("#") or v.startswith("https://")), v
            elif (
                v
                and re.search(r"(?i)(https?:|javascript:|data:|//)", v)
                and not (tag == "meta" and k == "content")
            ):
                raise AssertionError(f"URL-like attribute {tag} {k}={v!r}")
    metas = [
        a
        for t, a in p.tags
        if t == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy"
    ]
    assert [m["content"] for m in metas] == [CSP]
    assert CSP == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert "url(" not in p.style and "@import" not in p.style
    assert "//" not in p.style  # no URL in the stylesheet (attributes were checked above; text is text)
    return p


def assert_links_resolve(data: bytes) -> tuple[set[str], list[str]]:
    """Every element id is unique and every `href="#x"` names one; returns (ids, in-page hrefs)."""
    p = parse(data)
    ids = [a["id"] for _, a in p.tags if a.get("id")]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    local = [str(a["href"]) for t, a in p.tags if t == "a" and str(a.get("href") or "").startswith("#")]
    missing = sorted({h for h in local if h[1:] not in set(ids)})
    assert not missing, missing
    return set(ids), local


def visible_text(data: bytes) -> str:
    return " ".join(" ".join(parse(data).text).split())
