"""The conversation engine: pure functions from (flow, state, input, context) to a step.

Module rule: nothing in this package may do I/O, read the clock, or import Flask, SQLAlchemy,
Babel's request helpers or a channel SDK. The shell (bot/) passes in everything impure through the
context and carries out what the returned step asks for.
"""
