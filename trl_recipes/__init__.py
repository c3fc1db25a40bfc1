"""TRL SFT recipes for Tarsier's two training stages."""
