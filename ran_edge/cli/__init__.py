"""The ``ran-edge`` command line: one module per subcommand, wiring library functions only."""
