"""Paths stage: forward and return walks between sources and private endpoints, as a networkx graph."""
