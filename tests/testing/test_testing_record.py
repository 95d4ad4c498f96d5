"""`wfdsl test record RUN_ID`: a stored run becomes a case that replays and passes."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

import wfdsl
from wfdsl.cli import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _stored_signup_run(db: Path) -> None:
    """A real run of examples/signup.yaml with real (test) actions: a mail
    server that fails once, a reminder after a day, the click an hour later."""
    clock = wfdsl.VirtualClock()
    with wfdsl.Engine(db, clock=clock) as engine:
        sent: list[str] = []

        @engine.action("email.send")
        def send(to: str, template: str, data: object = None) -> dict[str, str]:
            sent.append(template)
            if len(sent) == 1:
                raise ConnectionError("smtp hiccup")
            return {"id": f"msg-{len(sent)}"}

        engine.submit(EXAMPLES / "signup.yaml", input={"email": "ada@example.com"}, run_id="s-1")
        engine.run_until(clock.now() + 86400 + 3600)
        engine.signal("s-1", "verified", {"source": "link"})
        assert engine.run_until_complete("s-1").status == "completed"
        assert sent == ["verify", "verify", "reminder", "welcome"]


def test_a_recorded_run_replays_and_passes(tmp_path: Path) -> None:
    db = tmp_path / "prod.db"
    _stored_signup_run(db)
    out = tmp_path / "incident.test.yaml"
    code, text = invoke("test", "record", "s-1", "--db", str(db), "-o", str(out))
    assert code == 0, text
    case = yaml.safe_load(out.read_text())["cases"][0]
    # the input, the outcomes by attempt, the signal at its time with its data
    assert case["input"] == {"email": "ada@example.com"}
    verification = next(m for m in case["mocks"] if m["state"] == "send_verification")
    assert verification["attempts"][0] == {
        "raise": {"error": "ConnectionError", "message": "smtp hiccup"}
    }
    assert case["timeline"] == [{"at": "1d1h", "signal": "verified", "data": {"source": "link"}}]
    assert case["expect"]["states"] == [
        "send_verification",
        "wait_for_click",
        "remind",
        "too_many",
        "wait_for_click",
        "welcome",
    ]
    code, text = invoke("test", str(out))
    assert code == 0, text
    assert "PASS recorded run s-1" in text


def test_a_recorded_case_catches_a_changed_flow(tmp_path: Path) -> None:
    db = tmp_path / "prod.db"
    _stored_signup_run(db)
    changed = tmp_path / "signup.yaml"
    changed.write_text(
        (EXAMPLES / "signup.yaml").read_text().replace("timer: 1d", "timer: 2d"), encoding="utf-8"
    )
    out = tmp_path / "incident.test.yaml"
    assert (
        invoke("test", "record", "s-1", "--db", str(db), "--flow", str(changed), "-o", str(out))[0]
        == 0
    )
    code, text = invoke("test", str(out))
    assert code == 1  # the click now comes before any reminder
    assert "states: state 3 is 'welcome', expected 'remind'" in text


def test_recording_an_unknown_run_exits_4(tmp_path: Path) -> None:
    db = tmp_path / "prod.db"
    _stored_signup_run(db)
    code, _ = invoke("test", "record", "nope", "--db", str(db))
    assert code == 4


def test_a_map_is_recorded_with_a_mock_per_iteration(tmp_path: Path) -> None:
    db = tmp_path / "prod.db"
    with wfdsl.Engine(db, clock=wfdsl.VirtualClock()) as engine:

        @engine.action("pricing.quote")
        def quote(sku: str, qty: int, line: int) -> dict[str, float]:
            return {"amount": float(len(sku) * qty)}

        engine.submit(
            EXAMPLES / "map_fanout.yaml",
            input={"cart_id": "c", "items": [{"sku": "AB", "qty": 1}, {"sku": "ABC", "qty": 2}]},
            run_id="m-1",
        )
        assert engine.run_until_complete("m-1").output["line_totals"] == [2.0, 6.0]
    out = tmp_path / "cart.test.yaml"
    assert invoke("test", "record", "m-1", "--db", str(db), "-o", str(out))[0] == 0
    mocks = yaml.safe_load(out.read_text())["cases"][0]["mocks"]
    # One mock per iteration, told apart by its args; the iterations' calls may
    # finish in either order (they run on threads), so the file lists them so.
    skus = [m["args"]["sku"] for m in mocks if m["state"] == "quote_lines/quote"]
    assert sorted(skus) == ["AB", "ABC"]
    code, text = invoke("test", str(out))
    assert code == 0, text
