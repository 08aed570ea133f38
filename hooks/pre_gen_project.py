"""Refuse answers that cannot produce a working project, before any file is written."""

import json
import sys


def main() -> int:
    sys.path.insert(0, json.loads(r'''{{ saga_template_dir | tojson }}'''))
    from saga_template.hooks import pre_gen_project

    return pre_gen_project(json.loads(r'''{{ cookiecutter | tojson }}'''))


if __name__ == "__main__":
    sys.exit(main())
