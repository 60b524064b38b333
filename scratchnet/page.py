"""The bones of scratchnet's HTML pages: one self-contained file each, from the standard library.

A page carries everything inside it: pictures as PNG ``data:`` URIs, one inline style sheet
and one tiny inline script, no link to any other server, so it opens from ``file://`` and
can be mailed. The script keeps the reader's scroll position across reloads (in
``sessionStorage``). A page of a run still training reloads itself every ``REFRESH_S``
seconds (a ``<meta http-equiv="refresh">``, which needs no script); when it finds on loading
that the run has not written anything since ``data-reload-until``, the script stops the
reload (``window.stop()`` cancels the refresh) and says that the trainer seems to have stopped.
"""

import base64
import html
import struct

REFRESH_S = 30

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1a1a1a; max-width: 1180px; margin: 0 auto; \
padding: 0 16px 40px; }
h1 { font-size: 1.5em; margin-top: 0.8em; } \
h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
nav a { margin-right: 0.9em; } table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 0.6em 0 1.2em; } img { max-width: 100%; height: auto; }
figcaption { color: #333; font-style: italic; max-width: 70em; }
.state { font-weight: bold; padding: 6px 10px; border-left: 5px solid #0072B2; background: #eef5fb; }
.missing { color: #6b4d00; background: #fff7e0; padding: 6px 10px; border-left: 5px solid #E69F00; }
.columns { display: flex; flex-wrap: wrap; gap: 0 24px; align-items: flex-start; }
code { background: #f2f2f2; padding: 0 3px; }
""".strip()

SCRIPT = """
(function () {
  var key = "scratchnet-scroll:" + location.pathname;
  try {
    var saved = sessionStorage.getItem(key);
    if (saved !== null) window.scrollTo(0, Number(saved));
    addEventListener("scroll", function () { sessionStorage.setItem(key, String(window.scrollY)); });
  } catch (error) { /* storage refused (a private window): the page still reads */ }
  var until = Number(document.body.getAttribute("data-reload-until") || 0);
  addEventListener("load", function () {
    if (until && Date.now() > until) {
      window.stop();
      var note = document.getElementById("stale");
      if (note) note.hidden = false;
    }
  });
})();
""".strip()


def escape(value):
    return html.escape(str(value), quote=True)


def png_size(data):
    """(width, height) of PNG bytes, from the IHDR chunk that every PNG begins with."""
    return struct.unpack(">II", data[16:24])


def image(data, alt):
    """An <img> of PNG bytes, inline, with its size
    (so the layout, and the scroll position, is known early)."""
    width, height = png_size(data)
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return f'<img src="{uri}" width="{width}" height="{height}" alt="{escape(alt)}">'


def figure(data, caption):
    """A picture with the one sentence that says what to look for in it."""
    return f"<figure>{image(data, caption)}<figcaption>{escape(caption)}</figcaption></figure>"


def missing(text):
    return f'<p class="missing">{escape(text)}</p>'


def section(ident, title, content):
    return f'<section id="{ident}"><h2>{escape(title)}</h2>\n{content}\n</section>'


def table(rows, header=None, numeric=()):
    """An HTML table of already-formatted cells; columns whose index is in ``numeric`` align right."""
    head = "<tr>" + "".join(f"<th>{escape(cell)}</th>" for cell in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f'<td{" class=number" if k in numeric else ""}>{escape(cell)}</td>'
                                    for k, cell in enumerate(row)) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def facts(pairs):
    """A two-column table of (name, value) pairs, the names as row headers."""
    return "<table>" + "".join(f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>"
                               for name, value in pairs) + "</table>"


def document(title, body, reload_until_ms=None):
    """A whole page. With ``reload_until_ms`` it reloads every REFRESH_S seconds until that time."""
    refresh = f'<meta http-equiv="refresh" content="{REFRESH_S}">' if reload_until_ms is not None else ""
    until = f' data-reload-until="{int(reload_until_ms)}"' if reload_until_ms is not None else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">{refresh}'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body{until}>\n{body}\n"
            f"<script>{SCRIPT}</script></body></html>\n")
