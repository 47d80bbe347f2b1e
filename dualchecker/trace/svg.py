"""A few helpers to write inline SVG with every text and attribute escaped."""

from __future__ import annotations

from html import escape

from markupsafe import Markup


def attrs(**values: object) -> str:
    """` key="value"` pairs; underscores become dashes, None values are left out."""
    parts = []
    for key, value in values.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        if isinstance(value, float):
            value = f"{value:.1f}"
        parts.append(f' {name}="{escape(str(value), quote=True)}"')
    return "".join(parts)


def element(tag: str, body: str = "", /, **values: object) -> str:
    """`<tag attrs>body</tag>`; `body` must already be SVG (use `text` for plain text)."""
    return f"<{tag}{attrs(**values)}>{body}</{tag}>"


def text(x: float, y: float, content: str, **values: object) -> str:
    """A `<text>` element at (x, y) whose plain-text `content` is escaped."""
    return element("text", escape(content), x=x, y=y, **values)


def svg(width: float, height: float, body: list[str], *, label: str, **values: object) -> Markup:
    """A complete, self-contained <svg> element (safe to put in a page as is)."""
    return Markup(
        element(
            "svg",
            "".join(body),
            viewBox=f"0 0 {width:.0f} {height:.0f}",
            width=f"{width:.0f}",
            height=f"{height:.0f}",
            role="img",
            aria_label=label,
            **values,
        )
    )
