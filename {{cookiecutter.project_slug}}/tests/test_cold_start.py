"""Every handler module imports in Lambda's environment with tracing on, as at a real cold start.

The other tests turn tracing off; here the tracer patches its libraries as it does in AWS.
"""

import tempfile

import pytest

from devtools import bench


@pytest.mark.parametrize("module", sorted(bench.handler_modules().values()))
def test_the_handler_module_imports_with_tracing_on(module: str) -> None:
    with tempfile.TemporaryDirectory() as task_root:
        seconds = bench.run_python(bench.timed_import(f"import {module}"), bench.lambda_environment(task_root))
    assert seconds > 0
