"""scratchnet.page: the HTML of a report, escaped, self-contained, reloading only while a run goes on."""

import re

from scratchnet import page

PNG_1x2 = (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + (1).to_bytes(4, "big") + (2).to_bytes(4, "big")
           + b"\x08\x02\x00\x00\x00")


def test_text_is_escaped_everywhere_it_goes():
    content = page.table([["<script>", "x & y"]], header=["<th>"]) + page.missing("'\"")
    html = page.section("s", "a < b", content)
    assert "<script>" not in html and "&lt;script&gt;" in html and "x &amp; y" in html
    assert page.facts([("<b>", "1 > 0")]) == "<table><tr><th>&lt;b&gt;</th><td>1 &gt; 0</td></tr></table>"


def test_a_figure_is_inline_with_its_size_and_its_sentence():
    assert page.png_size(PNG_1x2) == (1, 2)
    html = page.figure(PNG_1x2, "what to look for")
    assert re.fullmatch(r'<figure><img src="data:image/png;base64,[A-Za-z0-9+/=]+" width="1" height="2" '
                        r'alt="what to look for"><figcaption>what to look for</figcaption></figure>', html)


def test_a_page_reloads_only_while_its_run_goes_on():
    still = page.document("run", "<p>done</p>")
    assert 'http-equiv="refresh"' not in still and "data-reload-until=" not in still and "<script>" in still
    moving = page.document("run", "<p>epoch 3</p>", reload_until_ms=1_700_000_000_000)
    assert f'<meta http-equiv="refresh" content="{page.REFRESH_S}">' in moving
    assert 'data-reload-until="1700000000000"' in moving and page.REFRESH_S >= 30
    for text in (still, moving):
        assert not re.search(r'\b(src|href)="(?!data:)', text)
        assert "<link" not in text and "@import" not in text
