"""connectors/realpage."""
