"""Rule evaluation: one module per rule (metadata in rules/<ID>.yaml), run by `engine.evaluate`."""
