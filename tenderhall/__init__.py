"""tenderhall package."""
