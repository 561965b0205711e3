"""Remote content in logged email, blocked as mail clients do.

An email's HTML may load images, style sheets and fonts from the sender's
servers (tracking pixels tell the sender who opened the mail, when and from
where). A logged email is shown with every such reference removed;
"Show images" on one email shows its original (sanitized) body.
"""

import re

from lxml import etree, html
from markupsafe import Markup

# Attributes that make a browser fetch a URL as soon as the element exists.
_URL_ATTRIBUTES = ("src", "srcset", "background", "poster", "data", "lowsrc", "dynsrc", "longdesc", "imagesrc")
# CSS: url(...), image-set("..."), and @import "..." (with or without url()).
_CSS_URL = re.compile(r"url\s*\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE | re.DOTALL)
_CSS_IMPORT = re.compile(r"@import\s+(['\"])(.*?)\1[^;]*;?", re.IGNORECASE | re.DOTALL)
_CSS_IMAGE_SET = re.compile(r"image-set\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)", re.IGNORECASE)
_CSS_STRING = re.compile(r"(['\"])(.*?)\1", re.DOTALL)
BLOCKED_CLASS = "o_crm_mail_blocked"


def is_remote(url):
    """True when loading ``url`` would reach another server: anything but an
    embedded ``data:`` URL, a ``cid:`` part of the same message, a fragment or
    a path on this server (``/web/...``, but not the protocol-relative
    ``//host/...``). Whitespace and control characters are ignored, as
    browsers do (https://url.spec.whatwg.org/#url-parsing)."""
    cleaned = re.sub(r"[\x00-\x20\\]", lambda m: "/" if m.group() == "\\" else "", url or "").lower()
    if not cleaned or cleaned.startswith(("data:", "cid:", "#")):
        return False
    return not (cleaned.startswith("/") and not cleaned.startswith("//"))


def _block_css(css):
    """``(css without remote url()/@import, changed)``."""
    changed = False

    def drop_url(match):
        nonlocal changed
        if is_remote(match.group(2)):
            changed = True
            return "none"
        return match.group(0)

    def drop_import(match):
        nonlocal changed
        changed = True
        return ""

    def drop_image_set(match):
        nonlocal changed
        if any(is_remote(string.group(2)) for string in _CSS_STRING.finditer(match.group(1))):
            changed = True
            return "none"
        return match.group(0)

    css = _CSS_IMPORT.sub(drop_import, css)
    css = _CSS_IMAGE_SET.sub(drop_image_set, css)
    css = _CSS_URL.sub(drop_url, css)
    return css, changed


def block_remote_content(body):
    """``(html, blocked)``: ``body`` (HTML, str or Markup) with every reference
    that would load remote content removed (``src``/``srcset``/``background``/...
    of any element, ``<link>`` style sheets, CSS ``url()`` and ``@import`` in
    ``style`` attributes and ``<style>`` elements); ``blocked`` says whether
    anything was removed. A blocked image keeps its ``alt`` and gets the class
    ``o_crm_mail_blocked``. Never raises: an unparsable body comes back empty.
    """
    if not body or not str(body).strip():
        return Markup(body or ""), False
    try:
        root = html.fragment_fromstring(str(body), create_parent="div")
    except (etree.ParserError, ValueError):
        return Markup(""), bool(str(body).strip())
    blocked = False
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower()
        if tag == "link" and is_remote(element.get("href")):
            element.drop_tree()
            blocked = True
            continue
        if tag == "style" and element.text:
            element.text, changed = _block_css(element.text)
            blocked |= changed
        for attribute in _URL_ATTRIBUTES:
            value = element.get(attribute)
            if value is None:
                continue
            urls = [part.strip().split(" ")[0] for part in value.split(",")] if attribute == "srcset" else [value]
            if any(is_remote(url) for url in urls):
                del element.attrib[attribute]
                blocked = True
                if tag == "img":
                    element.set("class", f"{element.get('class', '')} {BLOCKED_CLASS}".strip())
        style = element.get("style")
        if style and ("url" in style.lower() or "image-set" in style.lower() or "@import" in style.lower()):
            new_style, changed = _block_css(style)
            if changed:
                element.set("style", new_style)
                blocked = True
    if not blocked:
        return Markup(body), False
    out = "".join(
        [_escape_text(root.text)] + [html.tostring(child, encoding="unicode", method="html") for child in root]
    )
    return Markup(out), True


def _escape_text(text):
    return str(Markup.escape(text)) if text else ""
