"""Template machinery for cookiecutter-serverless-saga.

Shared by the Jinja extension (templates) and the hooks, so both read the
answers through the same parser.
"""
