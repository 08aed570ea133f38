"""Development tools that never ship to Lambda: the offline saga harness, the local runner, the diagram."""
