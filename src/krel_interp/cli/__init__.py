"""The ``krel-interp`` command line (heavy imports happen inside commands)."""
