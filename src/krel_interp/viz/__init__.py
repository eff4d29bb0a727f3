"""Views of traces and activations: terminal (rich) and HTML (plotly)."""
