"""Report stage: render a findings document for people (table, HTML, Markdown) and machines."""
