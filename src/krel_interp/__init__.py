"""krel_interp: interpretability for model organisms that think before they answer."""

__version__ = "0.1.0"
