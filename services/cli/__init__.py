"""The ``agentloom`` command line: ``main`` parses and dispatches, ``replay`` prints a timeline."""
