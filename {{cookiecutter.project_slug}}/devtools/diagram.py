"""The saga's state machine as a Mermaid flowchart: plain edges the normal flow, dotted ones caught errors."""

import re
from collections.abc import Mapping
from typing import Any

SHAPES = {"Task": ('["', '"]'), "Pass": ('[/"', '"/]'), "Choice": ('{"', '"}'), "Fail": ('(["', '"])')}


def flowchart(definition: Mapping[str, Any]) -> str:
    states: Mapping[str, Mapping[str, Any]] = definition["States"]
    # Named after the states, so that adding a step changes only the lines about it.
    ids = {name: re.sub(r"\W", "_", name) for name in states}
    lines = ["flowchart TD"]
    for name, state in states.items():
        opening, closing = SHAPES.get(state["Type"], SHAPES["Fail"])  # Succeed too: an end
        lines.append(f"    {ids[name]}{opening}{name}{closing}")
    lines.append(f"    start((start)) --> {ids[definition['StartAt']]}")
    for name, state in states.items():
        source = ids[name]
        for choice in state.get("Choices", []):
            lines.append(f"    {source} -->|{_condition(choice)}| {ids[choice['Next']]}")
        if "Default" in state:
            lines.append(f"    {source} -->|otherwise| {ids[state['Default']]}")
        if "Next" in state:
            lines.append(f"    {source} --> {ids[state['Next']]}")
        for catcher in state.get("Catch", []):
            errors = ", ".join(catcher["ErrorEquals"])
            lines.append(f"    {source} -.->|{errors}| {ids[catcher['Next']]}")
    ends = {
        "failed": [ids[name] for name, state in states.items() if state["Type"] == "Fail"],
        "succeeded": [ids[name] for name, state in states.items() if state["Type"] == "Succeed" or state.get("End")],
    }
    lines += ["    classDef failed fill:#fde2e1,stroke:#c0392b", "    classDef succeeded fill:#e3f6e8,stroke:#27ae60"]
    lines += [f"    class {','.join(members)} {kind}" for kind, members in ends.items() if members]
    return "\n".join(lines) + "\n"


def _condition(choice: Mapping[str, Any]) -> str:
    """A short label for a Choice rule: what it tests, not how."""
    if "And" in choice:
        return "valid"
    variables = [rule["Variable"] for rule in choice.get("Or", [choice])]
    if all(variable.startswith("$.compensation_errors.") for variable in variables):
        return "a compensation failed"
    return ", ".join(variables)
