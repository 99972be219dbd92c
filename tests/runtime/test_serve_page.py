"""The served web page in a real browser (headless Chromium from Debian, driven by Selenium through Debian's
chromedriver): with a video file and a WAV file as the live sources, boxes and command events must appear in
the page. The screenshot is kept as a test artifact in runs/test-artifacts/serve-page.png."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from serving import live_options, running

ARTIFACTS = Path(__file__).resolve().parents[2] / "runs" / "test-artifacts"


def test_the_page_shows_the_models_the_boxes_and_the_events(detect_run, commands_run, detect_data, commands_data,
                                                            monkeypatch):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (browser and driver_path):
        pytest.skip("headless Chromium is not installed (make install adds chromium and chromium-driver)")
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not try to download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(flag)
    models, serve_options = live_options(detect_run, commands_run, detect_data, commands_data)
    with running(models, serve_options) as url:
        driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
        try:
            driver.get(f"http://{url}/")
            wait = WebDriverWait(driver, 40, poll_frequency=0.2)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#detections li.detection"))
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#events li.event"))
            wait.until(lambda d: d.execute_script("return document.getElementById('video').naturalWidth") > 0)
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#stats tr")) > 1)
            # the caption is of the frame in the picture: its number and its count of boxes
            same = driver.execute_script(
                "return [document.getElementById('video').dataset.frame, document.getElementById('frame').textContent,"
                " document.getElementById('detection-count').textContent,"
                " document.querySelectorAll('#detections li.detection').length]")
            assert same[0] == same[1] and int(same[2]) == same[3], same
            assert driver.execute_script("return document.readyState") == "complete"
            rows = driver.find_elements(By.CSS_SELECTOR, "#models tr")
            assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows[1:]] == ["detect", "commands"]
            assert driver.find_element(By.ID, "summary").text == "2 model(s) served"
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            assert driver.save_screenshot(str(ARTIFACTS / "serve-page.png"))
        finally:
            driver.quit()
        # a plain headless screenshot finishes: the page's loading ends (a hang, not a speed, is what the limit catches)
        shot = ARTIFACTS / "serve-page-plain.png"
        shot.unlink(missing_ok=True)
        subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--window-size=1200,900", f"--screenshot={shot}", f"http://{url}/"], timeout=240,
                       capture_output=True)
        assert shot.stat().st_size > 0
