"""wfdsl package."""
