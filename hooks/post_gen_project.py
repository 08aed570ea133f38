"""Render the per-step and per-consumer files and drop what the chosen options do not use."""

import json
import sys
from pathlib import Path


def main() -> int:
    # cruft renders two commits of the template from one clone within seconds: bytecode cached for
    # one commit could pass for the other's equal-sized file, so the machinery compiles from source.
    sys.dont_write_bytecode = True
    sys.path.insert(0, json.loads(r'''{{ saga_template_dir | tojson }}'''))
    from saga_template.hooks import post_gen_project

    return post_gen_project(json.loads(r'''{{ cookiecutter | tojson }}'''), Path.cwd())


if __name__ == "__main__":
    sys.exit(main())
