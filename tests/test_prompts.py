"""Cookiecutter's interactive questions: the compensations default follows the steps given before it."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from saga_template.extensions import default_compensations
from saga_template.model import parse
from tests.conftest import DEFAULT_ANSWERS, TEMPLATE_ROOT, answers, tool


@pytest.mark.parametrize(
    ("services", "compensations"),
    [
        ("hotel, flight, car", "hotel=cancel_hotel, flight=cancel_flight"),
        ("one", ""),
        ("Payment-Service, LOYALTY", "payment_service=cancel_payment_service"),
    ],
)
def test_pressing_enter_after_naming_the_steps_compensates_all_but_the_last(
    tmp_path: Path, services: str, compensations: str
) -> None:
    """Typed answers go through cookiecutter's real prompts, in the order of cookiecutter.json."""
    typed = "".join(f"{services if key == 'services' else ''}\n" for key in DEFAULT_ANSWERS)
    command = [tool("cookiecutter"), "--default-config", "--output-dir", str(tmp_path), str(TEMPLATE_ROOT)]
    # A home of its own keeps the user's cookiecutter replay files out; a wide console keeps each prompt on one line.
    environment = {**os.environ, "HOME": str(tmp_path), "COLUMNS": "500"}
    finished = subprocess.run(command, input=typed, env=environment, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert f"comma-separated (a step without one is not undone) ({compensations}):" in finished.stdout
    saved = json.loads((tmp_path / "order-saga" / ".cookiecutter.json").read_text())
    assert saved["compensations"] == compensations
    saga = parse(saved)
    assert [step.compensation is not None for step in saga.steps] == [
        index < len(saga.steps) - 1 for index in range(len(saga.steps))
    ]


@pytest.mark.parametrize(
    ("services", "compensations"),
    [
        ("payment, inventory, shipping", "payment=cancel_payment, inventory=cancel_inventory"),
        ("Hotel-Booking , flight,", "hotel_booking=cancel_hotel_booking"),
        # Validation names what is wrong with these; a default would only hide it.
        ("", ""),
        ("payment, Payment", ""),
        ("3ds, shipping", ""),
        # cancel_<step> would be longer than a name may be, or already a step's name: no default for it.
        (f"{'a' * 30}, b, c", "b=cancel_b"),
        ("payment, cancel_payment, shipping", "cancel_payment=cancel_cancel_payment"),
    ],
)
def test_default_compensations_are_always_a_valid_answer(services: str, compensations: str) -> None:
    assert default_compensations(services) == compensations
    if compensations:
        parse(answers(services=services, compensations=compensations))
