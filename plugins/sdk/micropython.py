"""MicroPython's `micropython` module, as far as CircuitPython drivers use it.

`const(x)` marks a compile-time constant for MicroPython's compiler; in CPython it is x.
"""


def const(value):
    return value
