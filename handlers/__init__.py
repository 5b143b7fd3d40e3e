"""Capabilities, one package each; ``handlers.capabilities`` lists them for the assembly."""
