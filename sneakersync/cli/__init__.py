"""The command line (click): one module per command group, thin shells over library calls.

``main`` is the entry point; ``readonly`` answers plain looks at the store without
click; ``commands`` imports every command module and maps errors to exit codes in
one place; ``app`` holds the root group and shared helpers.  Nothing outside
``cli`` imports it.
"""

PROG = "sneakersync"
