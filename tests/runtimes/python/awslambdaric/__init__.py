"""Stands in for the Python runtime interface client (awslambdaric) in tests/emulate_runtime_test.cpp."""
