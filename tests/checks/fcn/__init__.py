"""The checks of notebook fcn: their catalogue and what is specific to them."""
