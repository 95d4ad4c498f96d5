"""The bugs a new user found in the designer (issue 15, "Bugs found"), each
shown in a real Chromium the way the user met it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.designer.browser.test_browser_editor import node, open_editor

SPACED = """\
wfdsl: "1"
name: spaced
description: Three steps, each introduced by a comment.

start: first
states:
  # The first step prepares.
  first:
    type: task
    action: noop
    next: second

  # The second step does the work.
  second:
    type: task
    action: noop
    next: third

  # The third step finishes.
  third:
    type: succeed
"""


def edits_sent(page: Any) -> list[dict[str, Any]]:
    """Every structural edit the page POSTs from now on (its ``op``)."""
    sent: list[dict[str, Any]] = []

    def seen(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/edit"):
            sent.append(request.post_data_json["op"])

    page.on("request", seen)
    return sent


def yaml_text(page: Any) -> str:
    return str(page.eval_on_selector("#yaml-text", "t => t.value"))


def test_rename_with_enter_or_f2_renames_once_and_keeps_the_selection(
    designer: Any, page: Any, artifacts: Path
) -> None:
    (designer.workspace / "rename_me.yaml").write_text(SPACED, encoding="utf-8")
    open_editor(page, designer, "rename_me.yaml")
    sent = edits_sent(page)
    node(page, "first").click()
    name = page.locator("#properties input[name='state-name']")
    name.fill("prepare")
    name.press("Enter")
    page.wait_for_selector("#graph .node[data-id='prepare'].selected")
    # Focus leaves the field (the browser's own change event fires on blur).
    page.locator("#graph .node[data-id='prepare']").focus()
    page.keyboard.press("F2")
    focused = page.evaluate("() => document.activeElement.name")
    assert focused == "state-name"
    page.keyboard.type("prep")
    page.keyboard.press("Enter")
    page.wait_for_selector("#graph .node[data-id='prep'].selected")
    page.locator("#graph .node[data-id='second']").click()
    page.wait_for_selector("#graph .node[data-id='second'].selected")
    renames = [op for op in sent if op["op"] == "rename_state"]
    assert [(op["state"], op["to"]) for op in renames] == [
        ("first", "prepare"),
        ("prepare", "prep"),
    ]
    assert page.locator("#error-banner").is_hidden()
    assert "start: prep\n" in yaml_text(page)
    page.screenshot(path=str(artifacts / "bug-rename-once.png"))


def test_deleting_a_state_keeps_its_neighbours_comments_and_blank_lines(
    designer: Any, page: Any, artifacts: Path
) -> None:
    (designer.workspace / "delete_me.yaml").write_text(SPACED, encoding="utf-8")
    open_editor(page, designer, "delete_me.yaml")
    node(page, "second").click()
    page.keyboard.press("Delete")
    page.wait_for_selector("#graph .node[data-id='second']", state="detached")
    text = yaml_text(page)
    assert "# The third step finishes.\n" in text, text
    assert "# The second step does the work." not in text, text
    assert "    next: second" not in text
    # One blank line still separates the states that are left.
    assert re.search(r"action: noop\n\n  # The third step finishes.\n  third:", text), text

    page.screenshot(path=str(artifacts / "bug-delete-keeps-comments.png"))


BROKEN_NEXT = """\
wfdsl: "1"
name: dangling
start: a
states:
  a:
    type: task
    action: noop
    next: nowhere
  b:
    type: task
    action: noop
    next: c
  c:
    type: succeed
"""


def test_a_state_with_an_error_gets_a_red_badge(designer: Any, page: Any, artifacts: Path) -> None:
    (designer.workspace / "dangling.yaml").write_text(BROKEN_NEXT, encoding="utf-8")
    open_editor(page, designer, "dangling.yaml")
    badge = page.locator(".badge[data-for='a']")
    badge.wait_for()
    assert "badge--error" in (badge.get_attribute("class") or "")
    fill = page.eval_on_selector(".badge[data-for='a'] circle", "c => getComputedStyle(c).fill")
    red, green, blue = (int(v) for v in re.findall(r"\d+", fill)[:3])
    assert red > 150 and green < 100 and blue < 100, fill
    page.screenshot(path=str(artifacts / "bug-red-badge.png"))


def test_the_editor_keeps_a_usable_graph_at_1024_by_768(
    designer: Any, page: Any, artifacts: Path
) -> None:
    page.set_viewport_size({"width": 1024, "height": 768})
    open_editor(page, designer, "order_saga.yaml")
    graph = page.locator("#graph").bounding_box()
    yaml = page.locator("#yaml-pane .cm-editor").bounding_box()
    assert graph is not None and yaml is not None
    assert graph["height"] >= 300, graph
    assert graph["width"] >= 400, graph
    assert yaml["height"] >= 150, yaml
    # Nothing hides below the window: the page itself does not scroll.
    overflow = page.evaluate("() => document.documentElement.scrollHeight - innerHeight")
    assert overflow <= 0
    page.screenshot(path=str(artifacts / "bug-editor-1024x768.png"))


def test_a_file_that_never_parsed_says_so_and_saving_it_says_saved(
    designer: Any, page: Any, artifacts: Path
) -> None:
    (designer.workspace / "never_parsed.yaml").write_text(
        'wfdsl: "1"\nname: x\nstates: [\n', encoding="utf-8"
    )
    page.goto(f"{designer.url}/edit/never_parsed.yaml")
    page.wait_for_selector("body[data-ready='true']")
    status = page.locator("#graph-status")
    assert status.is_visible()
    assert "last good" not in status.inner_text()
    assert "no graph" in status.inner_text().lower()
    page.keyboard.press("Control+s")
    page.wait_for_selector("#save-status:has-text('Saved')")
    page.screenshot(path=str(artifacts / "bug-never-parsed.png"))


def _contrast(page: Any, selector: str) -> float:
    """WCAG contrast ratio of an element's text on its background."""
    return float(
        page.eval_on_selector(
            selector,
            """el => {
                const parse = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
                const lum = ([r, g, b]) => {
                    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
                };
                // The first ancestor with a background is what the text sits on.
                let back = el, bg = "rgba(0, 0, 0, 0)";
                while (back && (bg = getComputedStyle(back).backgroundColor) === "rgba(0, 0, 0, 0)") {
                    back = back.parentElement;
                }
                const a = lum(parse(getComputedStyle(el).color));
                const b = lum(parse(back ? bg : "rgb(255, 255, 255)"));
                return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
            }""",
        )
    )


def test_favicon_contrast_heading_and_one_tab_stop_in_the_graph(
    designer: Any, page: Any, artifacts: Path
) -> None:
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto(f"{designer.url}/")
    page.wait_for_selector("table.files")
    for kind in ("ok", "warn", "error"):
        pills = page.locator(f".pill--{kind}")
        if pills.count():
            ratio = _contrast(page, f".pill--{kind}")
            assert ratio >= 4.5, (kind, ratio)
    open_editor(page, designer, "signup.yaml")
    assert page.locator("h1").count() == 1
    assert "signup.yaml" in page.locator("h1").inner_text()
    stops = page.eval_on_selector_all(
        "#graph .node", "els => els.filter(e => e.getAttribute('tabindex') === '0').length"
    )
    assert stops == 1
    # Tab reaches the graph once; arrows move inside it, and the stop follows.
    node(page, "send_verification").focus()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.dataset.id") == "wait_for_click"
    stop = page.eval_on_selector_all(
        "#graph .node[tabindex='0']", "els => els.map(e => e.dataset.id)"
    )
    assert stop == ["wait_for_click"]
    page.keyboard.press("Tab")
    assert page.evaluate("() => !!document.activeElement.closest('#graph .node')") is False
    page.goto(f"{designer.url}/runs")
    assert not missing, missing
    page.screenshot(path=str(artifacts / "bug-runs-page.png"))


SAME_NAME = """\
wfdsl: "1"
name: twin
start: done
states:
  done: {type: succeed, output: {which: "%s"}}
"""


def test_two_files_with_one_workflow_name_count_their_own_runs(
    designer: Any, page: Any, artifacts: Path
) -> None:
    folder = designer.workspace / "twins"
    folder.mkdir()
    (folder / "left.yaml").write_text(SAME_NAME % "left", encoding="utf-8")
    (folder / "right.yaml").write_text(SAME_NAME % "right", encoding="utf-8")
    open_editor(page, designer, "twins/left.yaml")
    page.click("#start-run")
    page.click("#run-submit")
    page.wait_for_url("**/runs/**")
    page.goto(f"{designer.url}/")
    page.wait_for_selector("table.files")
    left = page.locator("tr", has=page.locator("a.file-link", has_text="twins/left.yaml"))
    right = page.locator("tr", has=page.locator("a.file-link", has_text="twins/right.yaml"))
    assert left.locator("td").nth(3).inner_text().split()[0] == "1"
    assert right.locator("td").nth(3).inner_text().split()[0] == "0"
    page.screenshot(path=str(artifacts / "bug-twin-runs.png"))
