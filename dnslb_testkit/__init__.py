"""Importable test kit: the Kubernetes API double and fixtures shared by the test suites."""
