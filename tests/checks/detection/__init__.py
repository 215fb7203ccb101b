"""The checks of notebook detection: their catalogue and what is specific to them."""
