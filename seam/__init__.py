"""seam: a file seam between an AI agent and a trading desk.

Intents (YAML) in, markdown responses out; every step a hash-chained bead; capital never moves
without a human's approval. Pipeline stages, one module each:
intake → validate → route → handlers/* → respond → audit, wired by daemon.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
