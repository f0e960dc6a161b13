"""Weather readings and their summaries."""
