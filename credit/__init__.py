"""credit package."""
