"""Data files shipped with krel_interp (presets, templates, suites, organism adapters)."""
