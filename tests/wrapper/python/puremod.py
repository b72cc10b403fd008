"""A pure-Python module that exists only in the tmpdump's python/ directory."""


def hello():
    return "pure module from the tmpdump"
