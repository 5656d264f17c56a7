"""The command line (click): one module per command group, thin shells over library calls.

``app`` holds the root group and shared helpers; ``main`` imports every command module
and maps errors to exit codes in one place.  Nothing outside ``cli`` imports it.
"""
