"""Dev-only helpers of the repository (browser driving, screenshots): never part of the installed package."""
