"""Benchmarks of the template and of the projects it renders."""
