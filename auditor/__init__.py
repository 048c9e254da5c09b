"""pathaudit: audit Azure estates that put Azure OpenAI behind private endpoints and a gateway."""

__version__ = "0.1.0"
