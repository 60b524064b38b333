"""The report pages in a real browser: headless Chromium renders every section, draws a page that
is not blank, and stops reloading a run that has gone quiet.

Without Chromium these tests are skipped, unless SCRATCHNET_REQUIRE_BROWSER=1, when
they fail. On Debian: ``apt-get install chromium-headless-shell`` (or ``chromium``).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
from fakes import train_tiny
from PIL import Image

from scratchnet.recipe import Config
from scratchnet.reporting import write_index, write_report
from scratchnet.runfolder import STALE_S

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow  # a browser takes seconds to start: a quick run skips these with -m "not slow"
RUN_SECTIONS = ("run", "curves", "steps", "filters", "feature-maps", "recurrent", "confusion", "mistakes")


@pytest.fixture(scope="module")
def browser():
    found = next((path for path in map(shutil.which, BROWSERS) if path), None)
    if found is None:
        reason = (f"no Chromium found (looked for {', '.join(BROWSERS)}); "
                  "apt-get install chromium-headless-shell")
        if os.environ.get("SCRATCHNET_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}: SCRATCHNET_REQUIRE_BROWSER=1 requires it")
        pytest.skip(reason)
    return found


def chromium(browser, tmp_path, page, *options, timeout=120):
    """Run headless Chromium on a local page; returns its standard output."""
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}", *options, page.as_uri()]
    # its own process group: Debian's chromium commands are shell wrappers,
    # and a timeout must stop the browser too
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    assert process.returncode == 0, stderr[-2000:]
    return stdout


def screenshot(browser, tmp_path, page, name, height):
    path = tmp_path / name
    chromium(browser, tmp_path, page, f"--screenshot={path}", f"--window-size=1200,{height}")
    pixels = np.asarray(Image.open(path).convert("RGB"))
    ink = np.mean(pixels.min(axis=2) < 200)  # share of pixels that are not white or near it
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert ink > 0.01 and colours > 200, f"{path} looks blank: {ink:.1%} ink, {colours} colours"
    return path


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, cifar_root):
    folder = tmp_path_factory.mktemp("run")
    config = Config(model="cnn_lstm", epochs=1, batch_size=32, train_size=32, val_size=32, test_size=100,
                    warmup_steps=0)
    train_tiny(config, folder, cifar_root)
    return folder


def test_run_report_in_a_browser(browser, run_folder, cifar_root, tmp_path):
    page = write_report(run_folder, data_dir=cifar_root)
    dom = chromium(browser, tmp_path, page, "--dump-dom")
    assert re.findall(r'<section id="([^"]+)"', dom) == list(RUN_SECTIONS)
    assert len(re.findall(r'<img src="data:image/png;base64,', dom)) == 9  # with the steps curve
    assert "Finished: 1 of 1 epochs." in dom and "true classes of 100 test images" in dom
    screenshot(browser, tmp_path, page, "report.png", 5000)


def test_table1_page_in_a_browser(browser, tmp_path):
    runs = tmp_path / "results" / "runs"
    summaries = {}
    for name in ("cnn-seed0", "cnn_lstm-seed0", "lstm-seed0"):
        shutil.copytree(os.path.join(REPO, "results", "runs", name), runs / name)
        summary = json.loads((runs / name / "summary.json").read_text())
        summaries[summary["model"]] = [summary]
    from scratchnet.table1 import summarise  # the rows reproduce passes

    index = write_index(tmp_path / "results", summarise(summaries), runs)
    dom = chromium(browser, tmp_path, index, "--dump-dom")
    assert re.findall(r'<section id="([^"]+)"', dom) == ["table1", "curves", "runs"]
    assert dom.count('<a href="runs/') == 3 and "CNN-LSTM" in dom
    screenshot(browser, tmp_path, index, "index.png", 1800)
    report = runs / "cnn_lstm-seed0" / "report.html"
    dom = chromium(browser, tmp_path, report, "--dump-dom")
    assert re.findall(r'<section id="([^"]+)"', dom) == ["run", "curves", "steps", "inside"]
    screenshot(browser, tmp_path, report, "committed.png", 1800)


def test_a_page_whose_run_went_quiet_stops_reloading(browser, run_folder, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(run_folder, folder)
    (folder / "summary.json").unlink()
    quiet_since = time.time() - STALE_S - 60  # the trainer died 11 minutes ago, after writing this page
    for path in folder.iterdir():
        os.utime(path, (quiet_since, quiet_since))
    page = write_report(folder, full=False, now=quiet_since + 1)
    assert 'http-equiv="refresh"' in page.read_text()
    # Virtual time runs past the 30 s refresh: a page still reloading would never settle to be dumped
    dom = chromium(browser, tmp_path, page, "--dump-dom", "--virtual-time-budget=45000", timeout=90)
    assert '<p id="stale" class="missing">' in dom  # the script unhid its note and stopped the reload
